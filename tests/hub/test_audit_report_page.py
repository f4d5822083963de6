"""The access report in the audit service, with a real hub: for auditors, recorded first."""

from __future__ import annotations

import csv
import io
import re

import pytest

from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.intake import new_event
from support.audit_record import EMITTING_LOGIN, audit_dir, entries, wait_for
from support.hub import RealHub, browser_login

pytestmark = pytest.mark.hub

# The report's settings reach the audit service the way every HDS setting does: the hub
# publishes them from its config.
SETTINGS = EMITTING_LOGIN + '\nc.AccessReport.time_zone = "Europe/Paris"\n'


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """Users: `dpo` (an auditor), `alice` (a researcher); a June 2025 of cohort-a."""
    hub = RealHub(tmp_path_factory.mktemp("audit-report"), extra_config=SETTINGS).start()
    june = [
        new_event("dataset.read", "alice", "user", "allowed", project="cohort-a",
                  target=f"dataset/t{n}.parquet", time=f"2025-06-02T08:{n:02d}:00.000000Z")
        for n in range(3)
    ] + [
        new_event("download.blocked", "bob", "user", "refused", project="cohort-a",
                  target='=HYPERLINK("http://x")' if n == 0 else "dataset/t0.parquet",
                  time=f"2025-06-05T21:0{n}:00.000000Z", details={"reason": "downloads"})
        for n in range(5)
    ] + [
        new_event("server.started", "service:jupyterhub", "service", "succeeded",
                  project="cohort-a", target="alice/cohort-a", time="2025-06-02T07:55:00Z"),
        new_event("server.stopped", "service:jupyterhub", "service", "succeeded",
                  project="cohort-a", target="alice/cohort-a", time="2025-06-02T09:25:00Z"),
    ]  # fmt: skip
    Inbox(audit_dir(hub)).put(june, source="hub")
    wait_for(hub, count=10, project="cohort-a", since="2025-06-01", until="2025-06-30")
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def auditor(hub):
    return browser_login(hub, "dpo")


def get(session, hub, path: str = "report", **params):
    return session.get(f"{hub.url}/services/audit/{path}", params=params, timeout=60)


def generations(hub) -> list[dict]:
    """The report's generations on the record now (no waiting)."""
    return entries(hub, action="audit.access-report")


def test_an_auditor_reads_the_monthly_report(hub, auditor):
    response = get(auditor, hub, project="cohort-a", month="2025-06")
    assert response.status_code == 200, response.text[:500]
    # On the record by the time the page arrives: recorded before it was built.
    (generated,) = [g for g in generations(hub) if g["details"]["format"] == "page"]
    assert (generated["actor"], generated["project"], generated["target"]) == (
        "dpo", "cohort-a", "2025-06")  # fmt: skip
    assert generated["details"]["time_zone"] == "Europe/Paris"
    assert (generated["outcome"], generated["reported_by"]) == ("allowed", "audit")
    page = response.text
    assert "cohort-a, June 2025</strong> (Europe/Paris time" in page
    people = dict(re.findall(r'data-person="(\w+)">\s*<td><a [^>]*>\w+</a></td>\s*<td>(\d+)', page))
    assert people == {"alice": "3", "bob": "0"}
    # bob's five refused downloads in four minutes, at 23:00 in Paris: flagged in words.
    assert "⚠ burst of refusals" in page and "5 refused attempts to take data out" in page
    assert "2025-06-05 23:00" in page
    assert "1 h 30 min" in page  # alice's session
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'") and "unsafe-inline" not in policy
    assert "<script" not in page and " style=" not in page


def test_the_report_as_csv_safe_for_spreadsheets(hub, auditor):
    response = get(auditor, hub, "report.csv", project="cohort-a", month="2025-06")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert 'filename="access-report-cohort-a-2025-06.csv"' in response.headers[
        "Content-Disposition"]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.text)))
    refusals = [r for r in rows if r["section"] == "refusal"]
    assert len(refusals) == 5 and {r["anomaly"] for r in refusals} == {"burst of refusals"}
    assert refusals[0]["detail"].startswith("'=HYPERLINK")
    assert [r["person"] for r in rows if r["section"] == "read"] == ["alice"] * 3
    assert any(g["details"]["format"] == "csv" for g in generations(hub))


def test_the_chooser_and_a_bad_month_generate_nothing(hub, auditor):
    before = len(generations(hub))
    chooser = get(auditor, hub)
    assert chooser.status_code == 200 and 'id="chooser"' in chooser.text
    assert '<option value="cohort-a">' in chooser.text
    bad = get(auditor, hub, project="cohort-a", month="June")
    assert bad.status_code == 400 and "write a month as YYYY-MM" in bad.text
    missing = get(auditor, hub, "report.csv", month="2025-06")
    assert missing.status_code == 400
    assert len(generations(hub)) == before


def test_a_researcher_is_refused_the_report(hub):
    alice = browser_login(hub, "alice")
    for path in ("report", "report.csv"):
        response = get(alice, hub, path, project="cohort-a", month="2025-06")
        assert response.status_code == 403
        assert "t0.parquet" not in response.text and "refused attempts" not in response.text
    assert not [g for g in generations(hub) if g["actor"] == "alice"]
    refused = wait_for(hub, action="service.open", person="alice")
    assert refused[-1]["outcome"] == "refused"
