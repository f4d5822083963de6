"""The Pro Santé Connect preset against the demo provider set up like PSC: acr, signed userinfo."""

from __future__ import annotations

import pytest
import requests

from support.oidc import Browser, account, read_events, start_pair

pytestmark = pytest.mark.hub

PSC_LIKE = {"userinfo_signed_response_alg": "RS256"}  # PSC answers userinfo as a signed JWT


def professional(username, acr, national_id):
    return account(
        username,
        acr=acr,
        preferred_username=national_id,
        SubjectNameID=national_id,
        given_name="Camille",
        family_name="Martin",
        SubjectRefPro={"codeCivilite": "DR", "exercices": [{"codeProfession": "10"}]},
    )


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub, provider = start_pair(
        tmp_path_factory,
        accounts=[
            professional("e-cps-user", "eidas1", "810000000011"),
            professional("card-user", "eidas2", "810000000022"),
            professional("weak-user", "eidas0", "810000000033"),
        ],
        client_metadata=PSC_LIKE,
        extra_config="""
        c.JupyterHub.authenticator_class = "hds-prosante-connect"
        c.ProSanteConnectAuthenticator.issuer = c.HDSOIDCAuthenticator.issuer
        c.ProSanteConnectAuthenticator.allow_all = True
        """,
    )
    hub.provider = provider
    yield hub
    hub.stop()
    provider.stop()


@pytest.mark.parametrize(
    ("login", "national_id", "acr"),
    [("e-cps-user", "810000000011", "eidas1"), ("card-user", "810000000022", "eidas2")],
)
def test_eidas1_and_stronger_log_in_with_the_national_id(hub, login, national_id, acr):
    browser = Browser(hub)
    response = browser.login(login)
    assert response.status_code == 302, response.text[:2000]
    sent = browser.authorize_params()
    assert sent["acr_values"] == "eidas1" and sent["scope"] == "openid scope_all"
    state = hub.api("GET", f"/users/{national_id}").json()["auth_state"]
    assert state["oauth_user"]["SubjectNameID"] == national_id  # from the signed userinfo
    assert state["oauth_user"]["family_name"] == "Martin"
    assert state["id_token_claims"]["acr"] == acr  # what this account's provider asserted
    # The userinfo the hub verified was a signed JWT, not JSON:
    userinfo = requests.get(
        f"{hub.provider.issuer}/me",
        headers={"Authorization": f"Bearer {state['access_token']}"},
        timeout=10,
    )
    assert userinfo.headers["Content-Type"].startswith("application/jwt")


def test_weaker_acr_is_refused_with_a_clear_message(hub):
    response = Browser(hub).login("weak-user")
    assert response.status_code == 403, response.text[:2000]
    assert "level eidas0" in response.text and "e-CPS" in response.text
    assert hub.api("GET", "/users/810000000033").status_code == 404
    failed = [e for e in read_events(hub.events_path) if e["action"] == "login.failed"]
    assert failed[-1]["details"]["reason"] == "acr_too_weak"
    assert failed[-1]["actor"] == "810000000033"
