"""Browser tier: make up's stack (real hub, real OIDC provider, real containers) and chromium."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright

from support.browser import CHROMIUM, CHROMIUM_ARGS, close_contexts, screenshot_failure
from support.demo_stack import DemoStack


# Module scope for both: each journey gets its own stack, and Playwright's sync API (which
# keeps an event loop running while it is open) is closed before the async tiers run.
@pytest.fixture(scope="module")
def stack(tmp_path_factory, docker_client):
    stack = DemoStack(tmp_path_factory.mktemp("demo-stack")).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def chromium():
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/ensure-host.sh installs Debian's chromium",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        shots = screenshot_failure(item.name)
        report.sections.append(("screenshots", "\n".join(map(str, shots)) or "(no pages)"))
    return report


@pytest.fixture(autouse=True)
def _close_contexts(chromium):
    """Each test's browser contexts close after it (and before Playwright stops)."""
    yield
    close_contexts()
