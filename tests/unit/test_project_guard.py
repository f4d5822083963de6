"""Which running servers the project guard stops, and why."""

from __future__ import annotations

from datetime import date

import pytest

from jupyter_hds.project_guard import why_stop

TODAY = date(2026, 11, 28)
GROUPS = {
    "alpha": {"users": ["ann", "ben"], "properties": {"plan": "public", "dataset": "a"}},
    "ends-today": {"users": ["ann"], "properties": {"expires": "2026-11-28"}},
    "ended": {"users": ["ann"], "properties": {"expires": "2026-11-27"}},
    "garbled": {"users": ["ann"], "properties": {"expires": "soon"}},
}


@pytest.mark.parametrize(
    "case_id, user, server, expected",
    [
        ("member", "ann", "alpha", None),
        ("last-day", "ann", "ends-today", None),
        ("removed-member", "cid", "alpha", "cid is no longer a member of alpha"),
        ("closed", "ann", "gone", "project gone was closed"),
        ("expired", "ann", "ended", "project ended expired on 2026-11-27"),
        ("unreadable-expiry", "ann", "garbled", "unreadable expiry"),
        ("default-server", "ann", "", "servers must belong to a project"),
    ],
)
def test_why_stop(case_id, user, server, expected):
    reason = why_stop(user, server, GROUPS, TODAY)
    assert (reason is None) if expected is None else (expected in reason)
