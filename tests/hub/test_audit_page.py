"""The audit page serves auditors only, through the hub login; auditors can change nothing."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
import requests

from support.audit_record import EMITTING_LOGIN, wait_for
from support.hub import RealHub, browser_login, make_project

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Users: `dpo` (in the auditors group), `alice` (a researcher), `root` (an admin)."""
    hub = RealHub(tmp_path_factory.mktemp("audit-page"), extra_config=EMITTING_LOGIN).start()
    yield hub
    hub.stop()


def page(session: requests.Session, hub, path: str = "", **params) -> requests.Response:
    return session.get(f"{hub.url}/services/audit/{path}", params=params, timeout=60)


ROW = re.compile(
    r'<tr class="\w+">\s*<td>(?P<seq>\d+)</td>\s*<td class="time">[^<]*</td>\s*'
    r"<td>(?P<actor>\S+) <small>[^<]*</small></td>\s*<td class=\"action\">(?P<action>[^<]*)</td>\s*"
    r'<td class="project">(?P<project>[^<]*)</td>'
)
REFUSED_BY_THE_HUB = "You do not have permission to access JupyterHub service audit"


def rows(response: requests.Response) -> list[dict]:
    """A page's rows, top to bottom: seq, actor, action and project of each."""
    return [
        {**match.groupdict(), "seq": int(match["seq"])} for match in ROW.finditer(response.text)
    ]


def seqs(response: requests.Response) -> list[int]:
    """The entry numbers of a page's rows, top to bottom."""
    return [row["seq"] for row in rows(response)]


def total(response: requests.Response) -> int:
    return int(re.search(r'<span id="total">([\d,]+)</span>', response.text)[1].replace(",", ""))


def audited_project(hub, name: str, member: str) -> None:
    """A project with three group entries, and a start refused to someone outside it: two
    entries of other kinds (the request and the refusal), before any container."""
    make_project(hub, name, [member])
    hub.api("POST", "/users/outsider")
    assert hub.api("POST", f"/users/outsider/servers/{name}").status_code == 403
    wait_for(hub, count=5, project=name)


def test_a_researcher_is_refused(hub):
    response = page(browser_login(hub, "alice"), hub)
    assert response.status_code == 403
    assert REFUSED_BY_THE_HUB in response.text
    assert "Chain" not in response.text and "matching entries" not in response.text
    (refused,) = wait_for(hub, action="service.open", person="alice")
    assert (refused["target"], refused["outcome"]) == ("audit", "refused")


def test_the_hosting_team_without_the_auditor_role_is_refused(hub):
    response = page(browser_login(hub, "root"), hub)
    assert response.status_code == 403
    assert REFUSED_BY_THE_HUB in response.text
    assert "matching entries" not in response.text
    (refused,) = wait_for(hub, action="service.open", person="root")
    assert (refused["actor_kind"], refused["outcome"]) == ("admin", "refused")


def test_someone_not_logged_in_is_sent_to_the_login(hub):
    first = requests.get(f"{hub.url}/services/audit/", timeout=30, allow_redirects=False)
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/hub/api/oauth2/authorize?client_id=service-audit")
    response = requests.get(f"{hub.url}/services/audit/", timeout=30)
    assert response.url.startswith(f"{hub.url}/hub/login")
    assert 'name="username"' in response.text and "matching entries" not in response.text


@pytest.fixture(scope="module")
def auditor(hub):
    return browser_login(hub, "dpo")


def test_an_auditor_sees_the_record_and_its_verification(hub, auditor):
    audited_project(hub, "cohort-v", "bob")
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
    # What each filter must leave out: another project's group entries, this project's other
    # entries (a refused start), other people's entries.
    audited_project(hub, "cohort-f", "fay")
    audited_project(hub, "cohort-g", "gus")
    assert total(page(auditor, hub, project="cohort-f")) == 5
    only = page(auditor, hub, project="cohort-f", action="group")
    assert total(only) == 3
    assert [(r["project"], r["action"]) for r in rows(only)] == [
        ("cohort-f", "group.members.add"), ("cohort-f", "group.properties"),
        ("cohort-f", "group.create"),
    ]  # fmt: skip
    assert {r["actor"] for r in rows(page(auditor, hub))} > {"service:hds-test"}
    newest = seqs(page(auditor, hub, person="service:hds-test"))
    assert {r["actor"] for r in rows(page(auditor, hub, person="service:hds-test"))} == {
        "service:hds-test"
    }
    assert len(newest) >= 8 and newest == sorted(newest, reverse=True), newest
    middle = newest[len(newest) // 2]
    older = page(auditor, hub, person="service:hds-test", before=middle)
    assert older.status_code == 200
    assert seqs(older) == [seq for seq in newest if seq < middle]
    bad = page(auditor, hub, since="31/12/2025")
    assert bad.status_code == 400 and "write a day as YYYY-MM-DD" in bad.text


def test_csv_export_is_complete_and_itself_recorded(hub, auditor):
    audited_project(hub, "cohort-e", "eve")
    audited_project(hub, "cohort-x", "xia")  # not exported
    response = page(auditor, hub, "export.csv", project="cohort-e")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["project"] for r in exported} == {"cohort-e"}
    actions = [r["action"] for r in exported]
    assert actions[:3] == ["group.create", "group.properties", "group.members.add"]
    # The request's record and the spawner's refusal arrive by two paths, in either order.
    assert sorted(actions[3:]) == ["server.refused", "server.start"]
    assert [int(r["seq"]) for r in exported] == sorted(int(r["seq"]) for r in exported)
    (export,) = wait_for(hub, action="audit.export", person="dpo")
    assert export["details"] == {"filters": {"project": "cohort-e"}, "rows": 5}
    assert export["reported_by"] == "audit"


# What the auditor tries with their own token, and the hub's exact answer: 403 where the
# scope is missing, 404 where the hub does not even say that bob's server exists.
ATTEMPTS = [
    ("POST", "/users/mallory", None, 403, "user.create", "refused"),
    ("PATCH", "/users/bob", {"admin": True}, 403, "user.modify", "refused"),
    ("PUT", "/groups/cohort-c/properties", {"plan": "private"}, 403, "group.properties", "refused"),
    ("POST", "/groups/cohort-c/users", {"users": ["dpo"]}, 403, "group.members.add", "refused"),
    ("POST", "/users/bob/tokens", {"note": "steal"}, 403, "token.create", "refused"),
    ("DELETE", "/users/bob/servers/cohort-c", None, 404, "server.stop", "failed"),
    ("POST", "/users/bob/servers/cohort-c", None, 404, "server.start", "failed"),
    ("POST", "/shares/bob/cohort-c", {"user": "dpo"}, 403, "share.grant", "refused"),
]


def test_an_auditor_can_change_nothing(hub, auditor):
    audited_project(hub, "cohort-c", "bob")
    before = hub.api("GET", "/users/bob").json()
    token = hub.api("POST", "/users/dpo/tokens", json={"note": "check"}).json()["token"]
    for method, path, body, status, _, _ in ATTEMPTS:
        response = hub.api(method, path, token=token, json=body)
        assert response.status_code == status, (method, path, response.text)
    for path, status in (("/users/bob/tokens", 403), ("/users", 403)):
        assert hub.api("GET", path, token=token).status_code == status, path
    admin_panel = auditor.get(f"{hub.url}/hub/admin", timeout=30)
    assert admin_panel.status_code == 403
    # Nothing changed.
    assert hub.api("GET", "/users/mallory").status_code == 404
    assert hub.api("GET", "/users/bob").json()["admin"] is before["admin"] is False
    group = hub.api("GET", "/groups/cohort-c").json()
    assert (group["users"], group["properties"]) == (
        ["bob"], {"plan": "public", "dataset": "cohort-c"},
    )  # fmt: skip
    # Each attempt is on the record, with the hub's answer.
    changes = wait_for(
        hub, count=len(ATTEMPTS), person="dpo",
        where=lambda e: e["details"].get("method") in ("POST", "PUT", "PATCH", "DELETE"),
    )  # fmt: skip
    assert [(e["action"], e["outcome"], e["details"]["status"]) for e in changes] == [
        (action, outcome, status) for _, _, _, status, action, outcome in ATTEMPTS
    ]
    # Reads refused to a logged-in person are on the record too (researchers and auditors hold
    # no `tokens` scope at all, so bob's tokens are refused, not hidden).
    reads = wait_for(hub, count=3, person="dpo", action="api.get")
    assert {(e["target"], e["outcome"], e["details"]["status"]) for e in reads} == {
        ("/hub/admin", "refused", 403),
        ("/hub/api/users", "refused", 403),
        ("/hub/api/users/bob/tokens", "refused", 403),
    }
