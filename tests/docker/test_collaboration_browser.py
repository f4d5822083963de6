"""Co-editing in real browsers: Debian's chromium, the real hub on subdomains, real servers.

alice shares her alpha server with carol from the hub's sharing page; both open the same
notebook in JupyterLab; what one types appears for the other, and each sees the other by
name. A guest's script output does not run in the owner's browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from support.browser import CONTEXTS, TIMEOUT_MS, close_contexts, launched_chromium
from support.collaboration import Person, loopback_subdomains, server_url, subdomain_hub
from support.hub import make_dataset, make_project

pytestmark = [pytest.mark.docker, pytest.mark.browser]

NOTEBOOK = {
    "type": "notebook",
    "content": {
        "cells": [
            {"cell_type": "code", "source": "cohort = 1", "metadata": {}, "outputs": [],
             "execution_count": None},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    },
}  # fmt: skip
CELL = ".jp-Notebook .jp-Cell .cm-content"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client):
    with loopback_subdomains():
        hub = subdomain_hub(tmp_path_factory.mktemp("collaboration-browser")).start()
        make_dataset(hub, "alpha-data", project="alpha")
        make_dataset(hub, "beta-data", project="beta")
        make_project(hub, "alpha", ["alice", "carol"], dataset="alpha-data")
        make_project(hub, "beta", ["bob"], dataset="beta-data")
        assert hub.api("POST", "/users/alice/servers/alpha").status_code in (201, 202)
        hub.wait_for_server("alice", "alpha")
        alice = Person(hub, "alice")
        assert alice.open_server("alice", "alpha").status_code == 200
        created = alice.server_api(
            "alice", "alpha", "PUT", "contents/work/analysis.ipynb", data=json.dumps(NOTEBOOK)
        )
        assert created.status_code == 201, created.text
        yield hub
        hub.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture(autouse=True)
def _close_contexts(chromium):
    yield
    close_contexts()


def logged_in(chromium, hub, name: str):
    """A fresh browser profile logged in to the hub as `name` (the test's dummy login)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    CONTEXTS.append(context)
    page = context.new_page()
    page.goto(f"{hub.public}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", "any")
    page.click("[type=submit]")
    page.wait_for_url("**/hub/home")
    return page


def open_notebook(page, hub):
    page.goto(server_url(hub, "alice", "alpha", "lab/tree/work/analysis.ipynb"))
    if "/hub/api/oauth2/authorize" in page.url:
        # The hub asks a guest to confirm before entering someone else's server.
        page.click("form button[type=submit]")
    page.wait_for_selector(CELL)


def share_with_carol(alice, hub) -> None:
    """alice presses "share" for carol on the hub's sharing page (unless already shared)."""
    alice.goto(f"{hub.public}/hub/hds/sharing")
    button = alice.query_selector("tr[data-member=carol] button.share")
    if button is not None:
        button.click()
        assert alice.inner_text("#sharing-message") == "alpha: shared with carol."
    alice.wait_for_selector("tr[data-member=carol] button.unshare")


def cell_text(page) -> str:
    return page.inner_text(CELL)


def test_members_co_edit_in_browsers_and_see_each_other_by_name(chromium, hub):
    alice, carol = logged_in(chromium, hub, "alice"), logged_in(chromium, hub, "carol")
    share_with_carol(alice, hub)
    open_notebook(alice, hub)
    open_notebook(carol, hub)

    carol.click(CELL)
    carol.keyboard.press("End")
    carol.keyboard.type("  # carol: by age band")
    alice.wait_for_function(
        "text => document.querySelector('.jp-Cell .cm-content').innerText.includes(text)",
        arg="carol: by age band",
    )
    alice.click(CELL)
    alice.keyboard.press("End")
    alice.keyboard.type("  # alice: yes")
    carol.wait_for_function(
        "text => document.querySelector('.jp-Cell .cm-content').innerText.includes(text)",
        arg="alice: yes",
    )
    assert "carol: by age band" in cell_text(alice) and "alice: yes" in cell_text(carol)

    # Each sees the other's cursor flag and entry in the collaboration panel, by name.
    for page, other in ((alice, "carol"), (carol, "alice")):
        page.wait_for_selector(f".jp-remote-userFlag-name:text-is('{other}')")
        page.click("li.lm-TabBar-tab[data-id=jp-collaboration-panel]")
        page.wait_for_selector(f".jp-CollaboratorHeader span:text-is('{other}')")


def test_guest_script_output_does_not_run_in_the_owners_browser(chromium, hub):
    alice, carol = logged_in(chromium, hub, "alice"), logged_in(chromium, hub, "carol")
    share_with_carol(alice, hub)
    open_notebook(alice, hub)
    open_notebook(carol, hub)
    carol.click(CELL)
    carol.keyboard.press("Control+a")
    carol.keyboard.type(
        "from IPython.display import HTML, Javascript, display\n"
        "display(Javascript('document.body.dataset.guestScript = \"ran\"'))\n"
        "display(HTML('<img src=x onerror=\"document.body.dataset.guestHtml = 1\">'))"
    )
    carol.keyboard.press("Shift+Enter")
    # The kernel ran it (the control: the cell has outputs in both browsers); no browser runs
    # what an output carries, not even its author's: the javascript renderer is off and the
    # servers' Content-Security-Policy allows no inline script (docs/security.md).
    for browser in (carol, alice):
        browser.wait_for_selector(".jp-OutputArea-output")
    alice.wait_for_timeout(3000)
    for browser in (carol, alice):
        assert browser.evaluate("document.body.dataset.guestScript") is None
        assert browser.evaluate("document.body.dataset.guestHtml") is None


def test_outsider_browser_is_refused(chromium, hub):
    bob = logged_in(chromium, hub, "bob")
    response = bob.goto(server_url(hub, "alice", "alpha", "lab"))
    # The hub's refusal page, not JupyterLab and not some other error.
    assert response.status == 403
    expect(bob.locator("body")).to_contain_text(
        "You do not have permission to access Server at /user/alice/alpha/"
    )
    expect(bob.locator("#jp-main-dock-panel")).to_have_count(0)
    assert "analysis.ipynb" not in bob.content()
