"""Two researchers co-edit a notebook in `make up`'s demo, out of the box.

`researcher` and `researcher2` are both members of the demo project, and the demo serves
user servers on subdomains of hub.localhost, as sharing requires: researcher shares her
server from the hub's sharing page, researcher2 opens it, and each sees what the other types,
and who they are.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from support.browser import person, shoot

pytestmark = [pytest.mark.browser, pytest.mark.docker]

OWNER, GUEST, PROJECT = "researcher", "researcher2", "demo-cohort"
CELL = ".jp-Notebook .jp-Cell .cm-content"
NOTEBOOK = "together.ipynb"


def new_notebook(page: Page) -> None:
    """The owner makes a notebook in ~/work with one line, saved as NOTEBOOK."""
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text("work")  # her space, writable
    page.get_by_title("New Launcher").or_(
        page.locator('[data-command="launcher:create"]')
    ).first.click()
    page.locator('.jp-LauncherCard[data-category="Notebook"]:visible').first.click()
    page.locator(CELL).first.click()
    page.keyboard.insert_text("cohort = con.sql('select * from patients')")
    page.keyboard.press("Control+s")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input[type=text]").fill(NOTEBOOK)
    dialog.get_by_role("button", name="Rename").or_(
        dialog.get_by_role("button", name="Save")
    ).first.click()
    expect(page.locator(".jp-DirListing-item", has_text=NOTEBOOK)).to_be_visible()


def type_at_end(page: Page, text: str) -> None:
    page.locator(CELL).first.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def sees(page: Page, text: str) -> None:
    expect(page.locator(CELL).first).to_contain_text(text)


def test_two_members_co_edit_a_notebook_in_the_demo(stack, chromium):
    owner = person(chromium, stack.url, OWNER)
    owner.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start").click()
    owner.wait_for_url(f"**/user/{OWNER}/{PROJECT}/lab**", timeout=120_000)
    assert owner.url.startswith(f"http://{OWNER}.hub.localhost:")  # her own web origin
    new_notebook(owner)

    owner.goto(f"{stack.url}/hub/hds/sharing")
    expect(owner.locator("#sharing-unavailable")).to_have_count(0)
    owner.locator(f"tr[data-member={GUEST}] button.share").click()
    expect(owner.locator("#sharing-message")).to_have_text(f"{PROJECT}: shared with {GUEST}.")
    shoot(owner, "collaboration-1-sharing-page")

    guest = person(chromium, stack.url, GUEST)
    guest.goto("/hub/hds/sharing")
    guest.locator(f'tr[data-owner="{OWNER}"] a.open-shared').click()
    if "/hub/api/oauth2/authorize" in guest.url:
        guest.locator("form button[type=submit]").click()  # the hub asks before entering
    guest.wait_for_url(f"**/user/{OWNER}/{PROJECT}/lab**", timeout=120_000)
    lab = f"http://{OWNER}.hub.localhost:{stack.port}/user/{OWNER}/{PROJECT}/lab/tree/work"
    owner.goto(f"{lab}/{NOTEBOOK}")
    guest.goto(f"{lab}/{NOTEBOOK}")
    sees(guest, "select * from patients")

    type_at_end(guest, "\n# researcher2: by age band")
    sees(owner, "researcher2: by age band")
    type_at_end(owner, "\n# researcher: agreed")
    sees(guest, "researcher: agreed")
    # Each sees the other's cursor, by name, and in the collaboration panel.
    owner.wait_for_selector(f".jp-remote-userFlag-name:text-is('{GUEST}')")
    guest.wait_for_selector(f".jp-remote-userFlag-name:text-is('{OWNER}')")
    guest.click("li.lm-TabBar-tab[data-id=jp-collaboration-panel]")
    expect(guest.locator(f".jp-CollaboratorHeader span:text-is('{OWNER}')")).to_be_visible()
    shoot(guest, "collaboration-2-co-editing")
