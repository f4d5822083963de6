"""Login tests: a failing test's report carries the demo provider's log."""

from __future__ import annotations

import pytest

from support.oidc import DemoProvider


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when in ("call", "setup"):
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, DemoProvider):
                report.sections.append(("provider log", value.log()[-8000:]))
    return report
