"""The data guard's audit events: the shape the hub's /hds/audit/events endpoint accepts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

# Stable action names: auditors filter on them (docs/data-guard.md lists them).
DOWNLOAD_BLOCKED = "download.blocked"
EXPORT_BLOCKED = "export.blocked"
DATASET_READ = "dataset.read"
DATASET_READ_BLOCKED = "dataset.read.blocked"
DATASET_COPY_BLOCKED = "dataset.copy.blocked"
DATASET_MOVE_BLOCKED = "dataset.move.blocked"
ACTIONS = (
    DOWNLOAD_BLOCKED,
    EXPORT_BLOCKED,
    DATASET_READ,
    DATASET_READ_BLOCKED,
    DATASET_COPY_BLOCKED,
    DATASET_MOVE_BLOCKED,
)
OUTCOMES = ("allowed", "refused")


def make_event(
    action: str,
    *,
    actor: str,
    outcome: str,
    project: str | None,
    target: str | None,
    source: str | None,
    route: str,
    method: str,
    reason: str,
    **details: Any,
) -> dict[str, Any]:
    """Return one event as the JSON-ready dict of the hub contract, with a fresh id and time."""
    if action not in ACTIONS:
        raise ValueError(f"unknown data-guard action {action!r}; known: {', '.join(ACTIONS)}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not actor:
        raise ValueError("a data-guard event needs the user name of the request (actor)")
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        "action": action,
        "actor": actor,
        "project": project or None,
        "target": target,
        "outcome": outcome,
        "source": source or None,
        "details": {"route": route, "method": method, "reason": reason, **details},
    }
