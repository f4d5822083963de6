"""The hosting team's journey in a real browser: onboard a project in the admin panel, then offboard."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from support.browser import person, shoot
from support.hub import make_dataset

pytestmark = [pytest.mark.browser, pytest.mark.docker]

PROJECT = "heart-failure"
DATASET = "heart-failure-extract"


def add_property(admin, key: str, value: str) -> None:
    """Fill the admin panel's empty property row and commit it with Add Item."""
    rows = admin.locator("input[type=text]:not(#username-input)")
    rows.nth(rows.count() - 2).fill(key)
    rows.nth(rows.count() - 1).fill(value)
    admin.get_by_role("button", name="Add Item").click()


def wait_for(check, timeout=60, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"{check.__doc__ or check} did not happen within {timeout} s")


def open_group(admin) -> None:
    admin.goto("/hub/admin#/groups")
    admin.get_by_text(PROJECT, exact=True).click()


def test_admin_onboards_a_project_a_member_uses_it_then_loses_it(stack, chromium):
    # The hosting team imported the project's extract first (`hds dataset import`, tested in
    # the docker and hub tiers): a dataset is pseudonymised with its own project's key.
    make_dataset(stack, DATASET, project=PROJECT)
    member = person(chromium, stack.url, "researcher2")
    expect(member.locator(f'tr[data-server-name="{PROJECT}"]')).to_have_count(0)

    admin = person(chromium, stack.url, "admin")
    expect(admin.get_by_role("link", name="Admin")).to_be_visible()
    admin.goto("/hub/admin#/create-group")
    admin.fill("#group-name", PROJECT)
    admin.get_by_role("button", name="Create").click()
    admin.get_by_text(PROJECT, exact=True).click()
    admin.get_by_placeholder("Add by username").fill("researcher2")
    admin.get_by_role("button", name="Add user").click()
    # A typo in the plan: the hub refuses the properties and says what to write instead.
    add_property(admin, "plan", "pubic")
    add_property(admin, "dataset", DATASET)
    admin.get_by_role("button", name="Apply").click()
    expect(admin.locator("#hds-api-error")).to_contain_text("plan 'pubic' is not defined")
    expect(admin.locator("#hds-api-error")).to_contain_text("defined plans: private, public")
    shoot(admin, "admin-1-bad-plan-refused")
    assert stack.api("GET", f"/groups/{PROJECT}").json()["properties"] == {}

    open_group(admin)
    if "researcher2" not in stack.api("GET", f"/groups/{PROJECT}").json()["users"]:
        admin.get_by_placeholder("Add by username").fill("researcher2")
        admin.get_by_role("button", name="Add user").click()
    add_property(admin, "plan", "public")
    add_property(admin, "dataset", DATASET)
    add_property(admin, "description", "Heart failure cohort, 2022-2024")
    shoot(admin, "admin-2-project-in-admin-panel")
    admin.get_by_role("button", name="Apply").click()

    def onboarded():
        group = stack.api("GET", f"/groups/{PROJECT}").json()
        return group["users"] == ["researcher2"] and group["properties"].get("dataset")

    wait_for(onboarded)
    assert stack.api("GET", f"/groups/{PROJECT}").json()["properties"] == {
        "plan": "public",
        "dataset": DATASET,
        "description": "Heart failure cohort, 2022-2024",
    }

    # The hosting team's overview: every project at a glance, and who has not accepted the terms.
    admin.get_by_role("link", name="Projects").click()
    overview = admin.locator("#projects-overview")
    expect(overview.locator(f'tr[data-project="{PROJECT}"]')).to_contain_text("1 / 10")
    expect(overview.locator('tr[data-project="demo-cohort"]')).to_contain_text("2 / 10")
    expect(overview.locator('tr[data-project="demo-cohort"] td.terms')).to_contain_text(
        "not accepted by researcher"
    )
    shoot(admin, "admin-3-projects-overview")

    member.goto("/hub/home")
    row = member.locator(f'tr[data-server-name="{PROJECT}"]')
    expect(row).to_contain_text("Heart failure cohort")
    shoot(member, "admin-4-member-sees-the-project")
    row.get_by_role("button", name="start").click()
    member.wait_for_url(f"**/user/researcher2/{PROJECT}/lab**", timeout=120_000)
    # Researchers land in their own space, ~/work.
    expect(member.locator(".jp-BreadCrumbs")).to_contain_text("work")
    shoot(member, "admin-5-member-in-jupyterlab")

    open_group(admin)
    admin.locator(".item.selected", has_text="researcher2").click()
    admin.get_by_role("button", name="Apply").click()

    def stopped():
        return PROJECT not in stack.api("GET", "/users/researcher2").json()["servers"]

    wait_for(stopped, timeout=120)  # how soon: tests/benchmarks/bench_stops.py

    # Back to the server's address: the hub's page for a server that is not running.
    response = member.goto(f"/user/researcher2/{PROJECT}/lab")
    assert response.status == 424
    expect(member.locator("body")).to_contain_text(f"Your server {PROJECT} is not running")
    expect(member.locator("#jp-main-dock-panel")).to_have_count(0)
    member.goto("/hub/home")
    expect(member.locator('tr[data-server-name="demo-cohort"]')).to_have_count(1)  # still hers
    expect(member.locator(f'tr[data-server-name="{PROJECT}"]')).to_have_count(0)
    response = member.goto(f"/hub/spawn/researcher2/{PROJECT}")
    assert response.status == 403
    expect(member.locator("body")).to_contain_text("researcher2 is not a member of project")
    shoot(member, "admin-6-removed-member-refused")
