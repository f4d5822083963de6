"""The auditor's journey in a real browser: find what a researcher did, export it, touch nothing."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from support.browser import person, shoot

pytestmark = [pytest.mark.browser, pytest.mark.docker]

PROJECT = "demo-cohort"


@pytest.fixture(scope="module")
def researcher_session(stack, chromium):
    """What the auditor will look for: a researcher logs in, starts the project, tries a download."""
    page = person(chromium, stack.url, "researcher")
    page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start").click()
    page.wait_for_url(f"**/user/researcher/{PROJECT}/lab**", timeout=120_000)
    refused = page.goto(f"/user/researcher/{PROJECT}/files/dataset/patients.parquet")
    assert refused.status == 403
    page.context.close()


def test_auditor_journey(stack, chromium, researcher_session):
    page = person(chromium, stack.url, "auditor")
    expect(page.locator("#no-projects")).to_be_visible()
    page.goto("/services/audit/")
    expect(page.locator("#verification")).to_have_class("banner intact")
    page.fill("input[name=person]", "researcher")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    for action in ("login", "server.start", "download.blocked"):
        expect(rows.filter(has=page.locator("td.action", has_text=action)).first).to_be_visible()
    blocked = rows.filter(has=page.locator("td.action", has_text="download.blocked")).first
    expect(blocked.locator("td.outcome")).to_have_text("refused")
    expect(blocked.locator("td.target")).to_have_text("dataset/patients.parquet")
    shoot(page, "auditor-1-audit-page")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert {row["actor"] for row in exported} == {"researcher"}
    assert {"login", "server.start", "download.blocked"} <= {row["action"] for row in exported}

    refused = page.goto(f"/hub/spawn/auditor/{PROJECT}")
    expect(page.locator("body")).to_contain_text("not a member")
    assert refused.status == 403
    shoot(page, "auditor-2-refused-a-server")
    admin = page.goto("/hub/admin")
    assert admin.status == 403
    expect(page.locator("body")).to_contain_text("not authorized")
    # A researcher's server (running: researcher_session started it) stays closed to the
    # auditor too: the hub refuses, the server never answers.
    assert stack.api("GET", "/users/researcher").json()["servers"][PROJECT]["ready"]
    # Opened at its own origin (a researcher's subdomain), the server sends the auditor to the
    # hub's OAuth page, which refuses; at the hub's origin, the hub knows no such server for her.
    assert page.goto(f"/user/researcher/{PROJECT}/lab").status == 404
    lab = f"http://researcher.hub.localhost:{stack.port}/user/researcher/{PROJECT}/lab"
    refused = page.goto(lab)
    assert refused.status == 403
    expect(page.locator("body")).to_contain_text(
        f"You do not have permission to access Server at /user/researcher/{PROJECT}/"
    )
    expect(page.locator("#jp-main-dock-panel")).to_have_count(0)
