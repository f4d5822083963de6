"""Each hub-side event type, produced by really doing the action against the real hub."""

from __future__ import annotations

import pytest
import requests

from support.audit_record import (
    EMITTING_LOGIN,
    as_admin_panel,
    entries,
    verify,
    wait_for,
)
from support.hub import RealHub, browser_login, make_dataset

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The shipped config for real, an emitting login and a spawn refusal (no Docker needed)."""
    hub = RealHub(tmp_path_factory.mktemp("audit-hub"), extra_config=EMITTING_LOGIN).start()
    for project in ("demo-cohort", "cohort-a", "cohort-b"):  # a dataset is its project's own
        make_dataset(hub, project)
    yield hub
    hub.stop()


def test_logins_failed_logins_and_logouts_are_recorded(hub):
    session = browser_login(hub, "alice")
    session.get(f"{hub.url}/hub/logout", timeout=30)
    failed = requests.Session()
    failed.get(f"{hub.url}/hub/login", timeout=30)
    failed.post(
        f"{hub.url}/hub/login",
        data={"username": "alice", "password": "wrong", "_xsrf": failed.cookies.get("_xsrf")},
        timeout=30,
    )
    (login_entry,) = wait_for(hub, action="login", person="alice")
    assert (login_entry["outcome"], login_entry["source"]) == ("succeeded", "127.0.0.1")
    assert login_entry["reported_by"] == "hub"
    (logout,) = wait_for(hub, action="logout", person="alice")
    assert logout["outcome"] == "succeeded"
    (refused,) = wait_for(hub, action="login.failed")
    assert (refused["actor"], refused["target"], refused["outcome"]) == (
        "anonymous",
        "alice",
        "refused",
    )
    assert refused["details"] == {"reason": "bad password"}


def test_admin_changes_through_the_rest_api_are_recorded(hub):
    api = hub.api
    assert api("POST", "/users/bob").status_code == 201
    assert api("PATCH", "/users/bob", json={"name": "robert"}).status_code == 200
    assert api("POST", "/groups/cohort-a").status_code == 201
    props = {"plan": "private", "dataset": "cohort-a"}
    assert api("PUT", "/groups/cohort-a/properties", json=props).status_code == 200
    assert api("POST", "/groups/cohort-a/users", json={"users": ["robert"]}).status_code == 200
    assert api("DELETE", "/groups/cohort-a/users", json={"users": ["robert"]}).status_code == 200
    token = api("POST", "/users/robert/tokens", json={"note": "laptop", "expires_in": 3600}).json()
    assert api("DELETE", f"/users/robert/tokens/{token['id']}").status_code == 204
    assert api("DELETE", "/groups/cohort-a").status_code == 204
    assert api("DELETE", "/users/robert").status_code == 204

    # This test's entries only: other tests in the module act through the same service.
    found = wait_for(
        hub, count=10, person="service:hds-test",
        where=lambda e: e["target"] in ("bob", "robert", "cohort-a"),
    )  # fmt: skip
    actions = [(e["action"], e["project"], e["target"]) for e in found]
    assert actions == [
        ("user.create", None, "bob"),
        ("user.modify", None, "bob"),
        ("group.create", "cohort-a", "cohort-a"),
        ("group.properties", "cohort-a", "cohort-a"),
        ("group.members.add", "cohort-a", "cohort-a"),
        ("group.members.remove", "cohort-a", "cohort-a"),
        ("token.create", None, "robert"),
        ("token.revoke", None, "robert"),
        ("group.delete", "cohort-a", "cohort-a"),
        ("user.delete", None, "robert"),
    ]
    by_action = {e["action"]: e for e in found}
    assert by_action["group.properties"]["details"]["body"] == props
    assert by_action["user.modify"]["details"]["body"] == {"name": "robert"}
    assert by_action["group.members.add"]["details"]["body"] == {"users": ["robert"]}
    assert by_action["token.create"]["details"]["body"] == {"note": "laptop", "expires_in": 3600}
    assert by_action["token.revoke"]["details"]["token_id"] == token["id"]
    assert {e["actor_kind"] for e in found} == {"service"}
    assert {e["outcome"] for e in found} == {"succeeded"}


def test_admin_panel_changes_name_the_hosting_team_member(hub):
    panel = browser_login(hub, "root")  # the hosting team: the hds-admin role, not a hub admin
    for method, path, body, status in [
        ("POST", "/groups/cohort-b", None, 201),
        ("PUT", "/groups/cohort-b/properties", {"plan": "public", "dataset": "cohort-b"}, 200),
        ("PUT", "/hds/users/frank", None, 201),  # the team adds people here (no admin:users)
        ("POST", "/groups/auditors/users", {"users": ["frank"]}, 200),  # frank: an auditor
    ]:
        response = as_admin_panel(panel, hub, method, path, json=body)
        assert response.status_code == status, response.text
    found = wait_for(hub, count=4, person="root", where=lambda e: e["action"] != "login")
    changes = [(e["action"], e["target"], e["actor_kind"]) for e in found]
    assert changes == [
        ("group.create", "cohort-b", "admin"),
        ("group.properties", "cohort-b", "admin"),
        ("user.create", "frank", "admin"),
        ("group.members.add", "auditors", "admin"),
    ]
    assert found[-1]["details"]["body"] == {"users": ["frank"]}


def test_a_researcher_refused_an_admin_change_is_recorded(hub):
    hub.api("POST", "/users/carol")
    token = hub.api("POST", "/users/carol/tokens", json={"note": "t"}).json()["token"]
    response = hub.api("POST", "/groups/cohort-c/users", token=token, json={"users": ["carol"]})
    assert response.status_code == 403
    (refused,) = wait_for(hub, person="carol", action="group.members.add")
    assert (refused["outcome"], refused["project"]) == ("refused", "cohort-c")
    assert refused["details"]["status"] == 403


def test_a_refused_server_start_is_recorded_with_its_reason(hub):
    hub.api("POST", "/users/dave")
    response = hub.api("POST", "/users/dave/servers/closed-x")  # no such project
    assert response.status_code == 403
    (refusal,) = wait_for(hub, action="server.refused", person="dave")
    assert (refusal["project"], refusal["target"]) == ("closed-x", "dave/closed-x")
    assert refusal["details"]["reason"] == "no-project"
    (request,) = wait_for(hub, action="server.start", project="closed-x")
    assert (request["actor"], request["outcome"]) == ("service:hds-test", "refused")


def test_reports_without_a_server_token_are_refused_and_recorded(hub):
    url = f"{hub.url}/hub/api/hds/audit/events"
    body = {"events": []}
    forged = requests.post(
        url, json=body, headers={"Authorization": "token " + "f" * 32}, timeout=30
    )
    assert forged.status_code == 401
    missing = requests.post(url, json=body, timeout=30)
    assert missing.status_code == 401
    hub.api("POST", "/users/erin")
    user_token = hub.api("POST", "/users/erin/tokens", json={"note": "Server at /user/erin/x/"})
    mimic = requests.post(
        url, json=body, headers={"Authorization": f"token {user_token.json()['token']}"}, timeout=30
    )
    assert mimic.status_code == 403
    assert hub.api("POST", "/hds/audit/events", json=body).status_code == 403  # a service token
    refused = wait_for(hub, count=4, action="audit.report.refused")
    assert [(e["actor"], e["details"]["status"]) for e in refused] == [
        ("anonymous", 401),
        ("anonymous", 401),
        ("erin", 403),
        ("service:hds-test", 403),
    ]


def test_the_record_stays_intact(hub):
    for name in ("ivy", "jan", "kit"):
        assert hub.api("POST", f"/users/{name}").status_code == 201
    made = wait_for(
        hub, count=3, action="user.create", where=lambda e: e["target"] in ("ivy", "jan", "kit")
    )
    report = verify(hub)
    assert report.intact, report.lines()
    # The verification covered every entry chained so far, this test's included.
    chained = [e["seq"] for e in entries(hub) if e["seq"] <= report.head_seq]
    assert report.entries == len(chained) and chained == list(range(1, report.head_seq + 1))
    assert report.head_seq >= max(e["seq"] for e in made)
    assert entries(hub, action="audit.misconfigured") == []


def test_a_fragment_that_unplugs_the_audit_is_on_the_record(tmp_path):
    unplugged = 'c.JupyterHub.tornado_settings = {"cookie_options": {"samesite": "Lax"}}\n'
    hub = RealHub(tmp_path, extra_config=EMITTING_LOGIN + unplugged).start()
    try:
        browser_login(hub, "alice")  # an event reaches the hub's audit sink, which checks its hooks
        (found,) = wait_for(hub, action="audit.misconfigured")
        assert found["details"]["missing"] == [
            "c.JupyterHub.tornado_settings['log_function'] (admin changes)"
        ]
    finally:
        hub.stop()
