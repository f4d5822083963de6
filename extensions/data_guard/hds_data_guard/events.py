"""The data guard's audit events: the shape the hub's /hds/audit/events endpoint accepts."""

from __future__ import annotations

import os
import re
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
# The hub's intake accepts any dotted lowercase action (jupyter_hds.audit.intake.ACTION).
ACTION = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")


def server_project() -> str:
    """The project of this server: its JupyterHub server name (servers are named by project)."""
    return os.environ.get("JUPYTERHUB_SERVER_NAME", "")


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
    """Return one data-guard event (route, method and reason in its details); see audit_event."""
    if action not in ACTIONS:
        raise ValueError(f"unknown data-guard action {action!r}; known: {', '.join(ACTIONS)}")
    return audit_event(action, actor=actor, outcome=outcome, project=project, target=target,
                       source=source, route=route, method=method, reason=reason,
                       **details)  # fmt: skip


def audit_event(
    action: str,
    *,
    actor: str,
    outcome: str,
    project: str | None,
    target: str | None,
    source: str | None,
    **details: Any,
) -> dict[str, Any]:
    """Return one event as the JSON-ready dict of the hub contract, with a fresh id and time.

    Any dotted action the hub accepts; the collaboration guard records its own with it.
    """
    if len(action) > 64 or not ACTION.match(action):
        raise ValueError(f"action {action!r} must be dotted lowercase, e.g. download.blocked")
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
        # An empty path is the contents root (the home folder); the hub takes no empty text.
        "target": "/" if target == "" else target,
        "outcome": outcome,
        "source": source or None,
        "details": details,
    }
