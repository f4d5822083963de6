"""The researcher's journey in a real browser: log in, code on the dataset, no way to download it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from support.browser import person, shoot

pytestmark = [pytest.mark.browser, pytest.mark.docker]

USER, PROJECT = "researcher", "demo-cohort"
SERVER = f"/user/{USER}/{PROJECT}"
CODE = """import hds_dataset, pandas as pd
con = hds_dataset.connect()
patients = con.sql("select count(*) from patients").fetchall()[0][0]
labs = pd.read_parquet("/home/jovyan/dataset/labs.parquet")
print(f"patients={patients} labs={len(labs)} tests={labs['test'].nunique()}")"""
FORBIDDEN_MENU_ENTRIES = re.compile(
    r"Download|Export|Print|Open in New Browser Tab|Copy Download Link"
)


def start_from_home(page: Page) -> None:
    page.goto("/hub/home")
    page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start").click()
    page.wait_for_url(f"**{SERVER}/lab**", timeout=120_000)
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text("work")


def stop_from_home(page: Page, stack) -> None:
    page.goto("/hub/home")
    page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="stop").click()
    expect(
        page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start")
    ).to_be_visible()
    assert PROJECT not in stack.api("GET", f"/users/{USER}").json()["servers"]


def menu_entries(page: Page, menu: str) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).click()
    labels = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def new_notebook_with_code(page: Page) -> None:
    page.get_by_title("New Launcher").or_(
        page.locator('[data-command="launcher:create"]')
    ).first.click()
    page.locator('.jp-LauncherCard[data-category="Notebook"]:visible').first.click()
    # Run only once the kernel is up: JupyterLab drops an execution asked for before that.
    expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(
        timeout=90_000
    )
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.click()
    page.keyboard.insert_text(CODE)
    page.keyboard.press("Shift+Enter")


def save_as(page: Page, name: str) -> None:
    page.keyboard.press("Control+s")
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.locator("input[type=text]").fill(name)
        dialog.get_by_role("button", name=re.compile("Rename|Save")).click()
    expect(page.locator(".jp-DirListing-item", has_text=name)).to_be_visible()


def test_researcher_journey(stack, chromium):
    page = person(chromium, stack.url, USER)
    projects = page.locator("tr[data-server-name]")
    expect(projects).to_have_count(1)
    expect(projects.first).to_have_attribute("data-server-name", PROJECT)
    shoot(page, "researcher-1-home")

    start_from_home(page)
    new_notebook_with_code(page)
    output = page.locator(".jp-OutputArea-output").first
    expect(output).to_contain_text("patients=12000", timeout=90_000)
    expect(output).to_contain_text("tests=5")
    save_as(page, "analysis.ipynb")
    shoot(page, "researcher-2-notebook-on-the-dataset")

    for menu in ("File", "Edit", "View", "Run", "Kernel", "Settings", "Help"):
        entries = menu_entries(page, menu)
        assert entries, f"the {menu} menu did not open"
        assert not [e for e in entries if FORBIDDEN_MENU_ENTRIES.search(e)], (menu, entries)
    assert "New" in menu_entries(page, "File")  # the right menus were read
    page.locator(".jp-BreadCrumbs-home").click()
    page.locator(".jp-DirListing-item", has_text="dataset").dblclick()
    page.locator(".jp-DirListing-item", has_text="patients.parquet").click(button="right")
    context_menu = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    shoot(page, "researcher-3-no-download-in-menus")
    page.keyboard.press("Escape")
    assert context_menu and not [e for e in context_menu if FORBIDDEN_MENU_ENTRIES.search(e)], (
        context_menu
    )

    refused = page.context.new_page()
    response = refused.goto(f"{SERVER}/files/dataset/patients.parquet?download=1")
    assert response.status == 403
    expect(refused.locator("body")).to_contain_text("Downloads are disabled")
    shoot(refused, "researcher-4-download-refused")
    refused.close()

    stop_from_home(page, stack)
    start_from_home(page)
    expect(page.locator(".jp-DirListing-item", has_text="analysis.ipynb")).to_be_visible()

    page.goto("/hub/home")
    page.get_by_role("link", name="Logout").or_(
        page.get_by_role("button", name="Logout")
    ).first.click()
    page.wait_for_load_state()
    confirm = page.get_by_role("button", name=re.compile("Yes|sign me out|Log out", re.I))
    if confirm.count():
        confirm.first.click()
    page.goto("/hub/home")
    expect(page).to_have_url(re.compile(r"/hub/login"))
    page.get_by_text("Sign in with").click()
    # The provider's session ended too: it asks for the password again.
    expect(page.locator("input[name=password]")).to_be_visible()
    shoot(page, "researcher-5-logged-out-at-the-provider")
