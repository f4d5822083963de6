"""The audit page serves auditors only, through the hub login; auditors can change nothing."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
import requests

from support.audit_record import EMITTING_LOGIN, wait_for
from support.hub import RealHub, browser_login, make_dataset

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Users: `dpo` (in the auditors group), `alice` (a researcher), `root` (an admin)."""
    hub = RealHub(tmp_path_factory.mktemp("audit-page"), extra_config=EMITTING_LOGIN).start()
    yield hub
    hub.stop()


def page(session: requests.Session, hub, path: str = "", **params) -> requests.Response:
    return session.get(f"{hub.url}/services/audit/{path}", params=params, timeout=60)


def seqs(response: requests.Response) -> list[int]:
    """The entry numbers of a page's rows, top to bottom."""
    return [int(seq) for seq in re.findall(r'<tr class="\w+">\s*<td>(\d+)</td>', response.text)]


def test_a_researcher_is_refused(hub):
    response = page(browser_login(hub, "alice"), hub)
    assert response.status_code == 403
    assert "Chain" not in response.text and "matching entries" not in response.text
    (refused,) = wait_for(hub, action="service.open", person="alice")
    assert (refused["target"], refused["outcome"]) == ("audit", "refused")


def test_the_hosting_team_without_the_auditor_role_is_refused(hub):
    response = page(browser_login(hub, "root"), hub)
    assert response.status_code == 403
    assert "matching entries" not in response.text
    (refused,) = wait_for(hub, action="service.open", person="root")
    assert (refused["actor_kind"], refused["outcome"]) == ("admin", "refused")


def test_someone_not_logged_in_is_sent_to_the_login(hub):
    response = requests.get(f"{hub.url}/services/audit/", timeout=30)
    assert response.url.startswith(f"{hub.url}/hub/login")


@pytest.fixture(scope="module")
def auditor(hub):
    hub.api("POST", "/users/bob")
    hub.api("POST", "/groups/cohort-a")
    make_dataset(hub, "cohort-a")
    properties = {"plan": "public", "dataset": "cohort-a"}
    assert hub.api("PUT", "/groups/cohort-a/properties", json=properties).ok
    hub.api("POST", "/groups/cohort-a/users", json={"users": ["bob"]})
    wait_for(hub, action="group.members.add")
    return browser_login(hub, "dpo")


def test_an_auditor_sees_the_record_and_its_verification(hub, auditor):
    response = page(auditor, hub)
    assert response.status_code == 200, response.text[:500]
    assert "group.members.add" in response.text
    newest = seqs(response)[0]
    for _ in range(20):  # the first verification runs once the service starts
        if "Verifying the chain" not in response.text:
            break
        time.sleep(0.5)
        response = page(auditor, hub)
    intact = re.search(r"<strong>Chain intact</strong> up to seq (\d+)", response.text)
    assert intact and int(intact.group(1)) >= newest, response.text[:2000]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    opened = wait_for(hub, action="service.open", person="dpo")
    assert opened[-1]["outcome"] == "succeeded"


def test_filters_and_pages(hub, auditor):
    only = page(auditor, hub, project="cohort-a", action="group")
    rows = re.findall(r"<tr class=\"(\w+)\">", only.text)
    total = int(re.search(r'<span id="total">([\d,]+)</span>', only.text).group(1))
    assert total == 3 and len(rows) == 3
    newest = seqs(page(auditor, hub, person="service:hds-test"))
    assert len(newest) >= 4 and newest == sorted(newest, reverse=True), newest
    middle = newest[len(newest) // 2]
    older = page(auditor, hub, person="service:hds-test", before=middle)
    assert older.status_code == 200
    assert seqs(older) == [seq for seq in newest if seq < middle]
    bad = page(auditor, hub, since="31/12/2025")
    assert bad.status_code == 400 and "write a day as YYYY-MM-DD" in bad.text


def test_csv_export_is_complete_and_itself_recorded(hub, auditor):
    response = page(auditor, hub, "export.csv", project="cohort-a")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["group.create", "group.properties", "group.members.add"]
    (export,) = wait_for(hub, action="audit.export", person="dpo")
    assert export["details"] == {"filters": {"project": "cohort-a"}, "rows": 3}
    assert export["reported_by"] == "audit"


def test_an_auditor_can_change_nothing(hub, auditor):
    token = hub.api("POST", "/users/dpo/tokens", json={"note": "check"}).json()["token"]
    attempts = [
        ("POST", "/users/mallory", None),
        ("PATCH", "/users/bob", {"admin": True}),
        ("PUT", "/groups/cohort-a/properties", {"plan": "private"}),
        ("POST", "/groups/cohort-a/users", {"users": ["dpo"]}),
        ("POST", "/users/bob/tokens", {"note": "steal"}),
        ("DELETE", "/users/bob/servers/cohort-a", None),
        ("POST", "/users/bob/servers/cohort-a", None),
        ("POST", "/shares/bob/cohort-a", {"user": "dpo"}),
        ("GET", "/users/bob/tokens", None),
        ("GET", "/users", None),
    ]
    for method, path, body in attempts:
        response = hub.api(method, path, token=token, json=body)
        assert response.status_code in (403, 404), (method, path, response.status_code)
    admin_panel = auditor.get(f"{hub.url}/hub/admin", timeout=30)
    assert admin_panel.status_code == 403
    # Each attempt is on the record: refused (403), or not found where the hub hides what the
    # auditor may not see (404).
    tried = wait_for(
        hub, count=8, person="dpo",
        where=lambda e: e["details"].get("method") in ("POST", "PUT", "PATCH", "DELETE"),
    )  # fmt: skip
    changes = [e for e in tried if e["details"].get("method") in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(changes) >= 8
    assert {e["outcome"] for e in changes} <= {"refused", "failed"}
    assert {e["action"] for e in changes} >= {"user.create", "group.properties", "server.start"}
    # Reads refused to a logged-in person are on the record too (researchers and auditors hold
    # no `tokens` scope at all, so bob's tokens are refused, not hidden).
    reads = wait_for(hub, count=3, person="dpo", action="api.get")
    assert {(e["target"], e["outcome"], e["details"]["status"]) for e in reads} == {
        ("/hub/admin", "refused", 403),
        ("/hub/api/users", "refused", 403),
        ("/hub/api/users/bob/tokens", "refused", 403),
    }
