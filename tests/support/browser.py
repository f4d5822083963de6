"""Debian's chromium driven by Playwright, with people logging in through the demo provider's page."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .hub import ROOT
from .oidc import PASSWORDS

CHROMIUM = "/usr/bin/chromium"
# Without these, chromium keeps trying to reach Google's services, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("HDS_SCREENSHOTS") or ROOT / "build" / "screenshots")
TIMEOUT_MS = 60_000
# Assertions wait as long as actions: a loaded CI machine is slower than the default 5 s.
expect.set_options(timeout=30_000)
# Contexts opened by person(): a failing browser test's report gets a screenshot of each page.
CONTEXTS: list = []


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's chromium, headless; a missing chromium fails the test with how to install it.

    Open it for a module at most: Playwright's sync API keeps an event loop running while it
    is open, which must be closed before the async tiers run.
    """
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/ensure-host.sh installs Debian's chromium",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def person(
    browser: Browser, hub_url: str, username: str, *, locale: str | None = None,
    accept_terms: bool = True,
) -> Page:  # fmt: skip
    """A fresh browser context for `username`, logged in through the provider's own login page.

    `locale` (e.g. "fr-FR") is the browser's language (its Accept-Language). With
    `accept_terms`, the person then accepts the hub's terms of use, if it has any, as each
    person must before their first server start.
    """
    options = {"locale": locale} if locale else {}
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, base_url=hub_url, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    CONTEXTS.append(context)
    page = context.new_page()
    page.goto("/hub/login")
    page.locator("#login-main a.btn-jupyter, #login-main [role=button]").first.click()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.locator("button[type=submit], input[type=submit]").first.click()
    page.wait_for_url("**/hub/home")
    expect(page.locator("nav")).to_contain_text(username)
    if accept_terms:
        accept_the_terms(page)
    return page


def accept_the_terms(page: Page) -> None:
    """Accept the hub's terms of use on its page (nothing to do when it has none), then home."""
    shown = page.goto("/hub/hds/terms")
    if shown is not None and shown.status == 404:
        page.goto("/hub/home")
        return
    if page.locator("#accept-terms").count():
        page.check("#terms-read")
        page.click("#accept-terms")
        page.wait_for_url("**/hub/home")
    else:
        page.goto("/hub/home")


def shoot(page: Page, name: str) -> Path:
    """Save a screenshot as `<name>.png` (docs/screenshots/ under `make screenshots`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def screenshot_failure(test_name: str) -> list[Path]:
    """Screenshots of every open page, for a failed test; the contexts are closed after."""
    folder = ROOT / "build" / "failed-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    taken = []
    for number, context in enumerate(CONTEXTS):
        for index, page in enumerate(context.pages):
            path = folder / f"{test_name}-{number}-{index}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                taken.append(path)
            except Exception:  # noqa: S112 (a closed page has nothing to show)
                continue
    return taken


def close_contexts() -> None:
    while CONTEXTS:
        CONTEXTS.pop().close()
