"""Browser tier: make up's stack (real hub, real OIDC provider, real containers) and chromium."""

from __future__ import annotations

import pytest

from support.browser import close_contexts, launched_chromium, screenshot_failure
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
    with launched_chromium() as browser:
        yield browser


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
