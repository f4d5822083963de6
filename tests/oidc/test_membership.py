"""The hosting team cannot give itself access: attacks by a logged-in `hds-admins` member.

Through the REST API the admin panel calls, with the admin's browser session: adding oneself
to a project or to `auditors` (by any route that adds members), reading people's stored
logins, making oneself a JupyterHub admin. Another admin may add them; the record names both.
"""

from __future__ import annotations

import pytest

from support import audit_record
from support.hub import make_dataset, make_project
from support.oidc import Browser, account, start_pair

pytestmark = pytest.mark.hub

SELF_ADDITIONS = [
    ("POST", "/groups/cohort/users", {"users": ["admin"]}),
    ("POST", "/groups/auditors/users", {"users": ["admin"]}),
    ("POST", "/groups/cohort-copy", {"users": ["admin"]}),
    ("POST", "/groups", {"groups": ["cohort-bis"], "users": ["researcher", "admin"]}),
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub, provider = start_pair(
        tmp_path_factory,
        accounts=[account("ops2", groups=["hds-users", "hds-admins"])],
        client_id="jupyter-hds-demo",
        demo_fragment=True,
    )
    make_dataset(hub, "cohort")
    make_project(hub, "cohort", ["researcher"])
    yield hub
    hub.stop()
    provider.stop()


class Staff:
    """A hosting-team member logged in through the provider, calling the API as the panel does."""

    def __init__(self, hub, name):
        self.browser = Browser(hub)
        assert self.browser.login(name).status_code == 302
        self.browser.get("/hub/admin")  # sets the XSRF cookie, as opening the panel does
        self.hub = hub

    def api(self, method, path, **kwargs):
        xsrf = self.browser.session.cookies.get("_xsrf", path="/hub/")
        return self.browser.session.request(
            method, f"{self.hub.url}/hub/api{path}", headers={"X-XSRFToken": xsrf},
            timeout=30, **kwargs,
        )  # fmt: skip


@pytest.fixture(scope="module")
def admin(hub):
    return Staff(hub, "admin")


def members(hub, group):
    response = hub.api("GET", f"/groups/{group}")
    return set(response.json()["users"]) if response.ok else set()


@pytest.mark.parametrize(("method", "path", "body"), SELF_ADDITIONS)
def test_an_admin_cannot_add_themself_by_any_route(hub, admin, method, path, body):
    response = admin.api(method, path, json=body)
    assert response.status_code == 403, response.text
    assert "cannot add themself" in response.json()["message"]
    for group in ("cohort", "auditors", "cohort-copy", "cohort-bis"):
        assert "admin" not in members(hub, group)
    refused = audit_record.wait_for(
        hub, person="admin", outcome="refused",
        where=lambda e: e["details"].get("path") == f"/hub/api{path}",
    )  # fmt: skip
    assert refused[-1]["details"]["body"]["users"] == body["users"]


def test_another_admin_may_add_them_and_the_record_names_both(hub, admin):
    assert admin.api("PUT", "/hds/users/researcher2", json={}).status_code == 201
    assert admin.api("POST", "/groups/cohort/users", json={"users": ["researcher2"]}).ok
    second = Staff(hub, "ops2")
    response = second.api("POST", "/groups/cohort/users", json={"users": ["admin"]})
    assert response.status_code == 200, response.text
    assert {"admin", "researcher2"} <= members(hub, "cohort")
    (added,) = audit_record.wait_for(
        hub, person="ops2", action="group.members.add", project="cohort"
    )
    assert added["details"]["body"]["users"] == ["admin"] and added["outcome"] == "succeeded"


def test_the_hosting_team_reads_no_stored_login_and_makes_no_jupyterhub_admin(hub, admin):
    assert admin.api("PATCH", "/users/admin", json={"admin": True}).status_code == 403
    assert hub.api("GET", "/users/admin").json()["admin"] is False
    assert Browser(hub).login("researcher").status_code == 302
    seen = admin.api("GET", "/users/researcher")
    assert seen.status_code == 200 and "auth_state" not in seen.json()
    assert admin.api("PATCH", "/users/researcher", json={"name": "admin2"}).status_code == 403
    # People are added before their first login through the hub's own endpoint.
    assert admin.api("POST", "/users/newcomer").status_code == 403
    added = admin.api("PUT", "/hds/users/newcomer", json={"email": "newcomer@demo.invalid"})
    assert added.status_code == 201, added.text
