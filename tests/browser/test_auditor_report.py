"""The auditor's monthly access report in a real browser, on `make up`'s stack.

The researcher's session and refused downloads are real. The month's dataset reads are added
to the record's inbox as the data guard reports them: the demo dataset is Parquet, which
JupyterLab does not open as text, so a real session records no `dataset.read`.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from jupyter_hds import settings
from jupyter_hds.audit.entry import format_time
from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.intake import new_event
from jupyter_hds.audit.report import AccessReport, Month
from support.audit_record import audit_dir, wait_for
from support.browser import person, shoot

pytestmark = [pytest.mark.browser, pytest.mark.docker]

PROJECT = "demo-cohort"
SERVER = f"/user/researcher/{PROJECT}"


def report_zone(stack):
    """The report's time zone, as the hub published it for its services."""
    return AccessReport(config=settings.load(stack.state_dir / "hds-settings.json")).zone


def reads_this_month(stack) -> list[dict]:
    """The researcher's reads this month, in the report's zone: a few by day, two at night,
    then 20 files she had never opened, within the last 20 minutes."""
    now = datetime.now(report_zone(stack))
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day = now.replace(hour=10, minute=0) if now.hour >= 11 else start.replace(hour=0, minute=1)
    night = now.replace(hour=2, minute=0) if now.hour >= 3 else start.replace(minute=2)
    moments = [("patients", day), ("labs", day + timedelta(minutes=5)),
               ("patients", night), ("stays", night + timedelta(minutes=20))]  # fmt: skip
    moments += [(f"extracts/site-{n:02d}", max(start, now - timedelta(minutes=20 - n)))
                for n in range(20)]  # fmt: skip
    return [
        new_event("dataset.read", "researcher", "user", "allowed", project=PROJECT,
                  target=f"dataset/{name}.parquet", reported_by=f"server:researcher/{PROJECT}",
                  time=format_time(moment), details={"route": "/api/contents"})
        for name, moment in moments
    ]  # fmt: skip


@pytest.fixture(scope="module")
def researchers_month(stack, chromium):
    """A researcher's session: a server started, six downloads refused in a minute, stopped."""
    page = person(chromium, stack.url, "researcher")
    page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start").click()
    page.wait_for_url(f"**{SERVER}/lab**", timeout=120_000)
    for _ in range(6):
        assert page.goto(f"{SERVER}/files/dataset/patients.parquet?download=1").status == 403
    assert stack.api("DELETE", f"/users/researcher/servers/{PROJECT}").status_code in (202, 204)
    page.context.close()
    Inbox(audit_dir(stack)).put(reads_this_month(stack), source="browser-test")
    wait_for(stack, count=6, action="download.blocked", person="researcher")
    wait_for(stack, action="server.stopped", project=PROJECT)
    wait_for(stack, count=24, action="dataset.read", person="researcher")


def test_auditor_monthly_report(stack, chromium, researchers_month):
    page = person(chromium, stack.url, "auditor")
    page.goto("/services/audit/")
    page.get_by_role("link", name="access report").click()
    page.fill("#chooser input[name=project]", PROJECT)
    this_month = str(Month.of(datetime.now(report_zone(stack))))
    expect(page.locator("#chooser input[name=month]")).to_have_value(this_month)
    page.get_by_role("button", name="Show the report").click()

    anomalies = page.locator("#anomalies tbody tr")
    for label in ("burst of refusals", "reads at night", "many new files at once"):
        expect(anomalies.filter(has_text=label).first).to_contain_text("researcher")
    researcher = page.locator('#people tr[data-person="researcher"]')
    expect(researcher).to_contain_text("⚠ burst of refusals")
    expect(researcher.locator("td").nth(1)).to_have_text("24")  # dataset reads
    expect(researcher.locator("td").nth(5)).to_have_text("6")  # refusals
    expect(page.locator("#sessions tbody tr").filter(has_text="researcher/")).to_contain_text(
        "stopped"
    )
    shoot(page, "auditor-3-monthly-report")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert {r["section"] for r in rows} >= {"person", "read", "refusal", "session", "anomaly"}
    assert len([r for r in rows if r["section"] == "refusal"]) == 6
    generated = wait_for(stack, count=2, action="audit.access-report", person="auditor")
    assert {g["details"]["format"] for g in generated} == {"page", "csv"}
    assert {g["project"] for g in generated} == {PROJECT}
    assert datetime.fromisoformat(generated[0]["time"]) <= datetime.now(UTC)
