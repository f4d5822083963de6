"""Expired access tokens are refreshed before a spawn; a dead refresh token means a new login."""

from __future__ import annotations

import time

import pytest
import requests

from support import docker_engine
from support.hub import make_dataset, make_project
from support.oidc import Browser, start_pair

pytestmark = [pytest.mark.hub, pytest.mark.docker]

ACCESS_TOKEN_TTL = 3


@pytest.fixture(scope="module")
def pair(tmp_path_factory, docker_client):
    hub, provider = start_pair(
        tmp_path_factory,
        access_token_ttl=ACCESS_TOKEN_TTL,
        # The project's members exist before they log in: the provider's group vouches for them.
        extra_config="""
        c.HDSOIDCAuthenticator.scope = ["openid", "profile", "email", "groups"]
        c.HDSOIDCAuthenticator.allowed_provider_groups = {"hds-users"}
        """,
    )
    make_dataset(hub, "demo")
    make_project(hub, "demo", ["researcher"])
    yield hub, provider
    hub.stop()
    provider.stop()


def auth_state(hub, username):
    return hub.api("GET", f"/users/{username}").json()["auth_state"]


def wait_until_expired(state):
    time.sleep(max(0.0, state["expires_at"] - time.time()) + 1)


def test_expired_access_token_is_refreshed_before_spawn(pair, docker_client):
    hub, _ = pair
    browser = Browser(hub)
    assert browser.login("researcher").status_code == 302
    before = auth_state(hub, "researcher")
    wait_until_expired(before)

    spawn = browser.get("/hub/spawn/researcher/demo")
    assert spawn.status_code == 302, spawn.text[:2000]
    assert "/login" not in spawn.headers["Location"]
    after = auth_state(hub, "researcher")
    assert after["access_token"] != before["access_token"]
    assert after["expires_at"] > time.time()
    assert after["id_token_claims"]["sub"] == before["id_token_claims"]["sub"]

    hub.wait_for_server("researcher", "demo")
    assert hub.api("DELETE", "/users/researcher/servers/demo").status_code in (202, 204)
    hub.wait_for_server("researcher", "demo", ready=False)
    assert docker_engine.leftovers(docker_client) == []


def test_revoked_refresh_token_means_logging_in_again_before_spawn(pair):
    hub, provider = pair
    browser = Browser(hub)
    assert browser.login("researcher2").status_code == 302
    state = auth_state(hub, "researcher2")
    client = provider.clients[0]
    revoked = requests.post(
        f"{provider.issuer}/token/revocation",
        data={"token": state["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    wait_until_expired(state)

    spawn = browser.get("/hub/spawn/researcher2/demo")
    assert spawn.status_code == 403, spawn.text[:2000]  # a page, not JupyterHub 6.1.1's 500
    assert "auth has expired for researcher2, login again" in spawn.text
    assert hub.api("GET", "/users/researcher2").json()["servers"] == {}
