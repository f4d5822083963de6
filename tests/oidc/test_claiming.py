"""Attacks on hub users made before their first login: another provider account taking them.

The hub lets existing users in (`allow_existing_users`, the opt-in for admin-managed access).
An admin prepares people before they log in and puts them in a project; the provider lets
anyone have an account (self-registration), so an attacker registers the prepared user name.
"""

from __future__ import annotations

import pytest

from support.hub import make_dataset
from support.oidc import Browser, account, read_events, start_pair

pytestmark = pytest.mark.hub

ATTACKER = {"groups": [], "email": "attacker@evil.example", "email_verified": True}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    accounts = [
        # Someone registers the name of a person the admin prepared.
        account("ana-impostor", preferred_username="ana", **ATTACKER),
        account("bea", email="bea@demo.invalid", email_verified=True),
        account(
            "bea-unverified",
            preferred_username="bea",
            email="bea@demo.invalid",
            email_verified=False,
        ),  # fmt: skip
        account("cid"),
        account("cid-namesake", preferred_username="cid"),
        account("dan"),  # in the trusted provider group, nothing recorded
        account("eve-empty", preferred_username="eve", **ATTACKER),
    ]
    hub, provider = start_pair(
        tmp_path_factory,
        accounts=accounts,
        extra_config="""
        c.HDSOIDCAuthenticator.scope = ["openid", "profile", "email", "groups"]
        c.HDSOIDCAuthenticator.allow_existing_users = True
        c.HDSOIDCAuthenticator.allowed_provider_groups = {"hds-users"}
        """,
    )
    make_dataset(hub, "cohort")
    assert hub.api("POST", "/groups/cohort").status_code == 201
    for name in ("ana", "dan", "eve"):  # JupyterHub's own API: nothing recorded
        assert hub.api("POST", f"/users/{name}").status_code == 201
    add_to_cohort(hub, "ana", "dan")  # eve is in no project: she holds nothing
    yield hub, provider
    hub.stop()
    provider.stop()


def add_to_cohort(hub, *names):
    response = hub.api("POST", "/groups/cohort/users", json={"users": list(names)})
    assert response.status_code == 200, response.text


def prepare(hub, name, recorded):
    """The admin makes `name` before their first login, saying which login is theirs."""
    response = hub.api("PUT", f"/hds/users/{name}", json=recorded)
    assert response.status_code == 201, response.text
    add_to_cohort(hub, name)


@pytest.fixture
def hub(pair):
    return pair[0]


def last_failure(hub, actor):
    failures = [e for e in read_events(hub.events_path) if e["action"] == "login.failed"]
    return [e for e in failures if e["actor"] == actor][-1]["details"]["reason"]


def test_an_account_with_the_same_name_does_not_take_a_prepared_project_member(hub):
    response = Browser(hub).login("ana-impostor")
    assert response.status_code == 403, response.text[:2000]
    assert "have not recorded that this login is yours" in response.text
    assert last_failure(hub, "ana") == "identity_unconfirmed"
    assert not (hub.api("GET", "/users/ana").json().get("user_info") or {}).get("oidc_subject")


def test_a_recorded_e_mail_must_come_verified(hub):
    prepare(hub, "bea", {"email": "BEA@demo.invalid"})
    assert Browser(hub).login("bea-unverified").status_code == 403
    assert last_failure(hub, "bea") == "identity_unconfirmed"
    assert Browser(hub).login("bea").status_code == 302  # the verified address, any case


def test_a_recorded_subject_lets_only_that_account_in(hub, pair):
    prepare(
        hub,
        "cid",
        {"subject": next(a["sub"] for a in pair[1].accounts if a["username"] == "cid")},
    )
    response = Browser(hub).login("cid-namesake")  # in the trusted group, same name
    assert response.status_code == 403, response.text[:2000]
    assert last_failure(hub, "cid") == "identity_mismatch"
    assert Browser(hub).login("cid").status_code == 302


def test_a_trusted_provider_group_vouches_when_nothing_was_recorded(hub):
    assert Browser(hub).login("dan").status_code == 302


def test_a_hub_user_that_holds_nothing_is_taken_like_a_new_one(hub):
    assert Browser(hub).login("eve-empty").status_code == 302


def test_a_bound_user_cannot_be_prepared_again(hub):
    assert Browser(hub).login("dan").status_code == 302
    response = hub.api("PUT", "/hds/users/dan", json={"email": "attacker@evil.example"})
    assert response.status_code == 409 and "delete the user" in response.json()["message"]
