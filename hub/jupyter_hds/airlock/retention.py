"""Frozen copies do not stay forever: those of finished requests go after c.Airlock.keep_days.

A finished request is a release past its end, a rejection or a withdrawal. Its frozen copies
are deleted and its record stays (file names, sizes, sha256, votes, comments, downloads),
marked `purged`, and each deletion is an `airlock.purged` event in the audit record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..policy import airlock as rules
from .desk import review_of
from .store import ReleaseStore


def ended(record: dict[str, Any]) -> datetime | None:
    """When the request reached its present state (the last entry of its history)."""
    history = record.get("history") or []
    return datetime.fromisoformat(history[-1]["time"]) if history else None


def due(record: dict[str, Any], settings: rules.Airlock, at: datetime) -> bool:
    """Whether `record`'s frozen copies are due for deletion at `at`."""
    if record.get("purged"):
        return False
    review = review_of(record)
    until = rules.files_kept_until(review.status, ended(record), review.expires,
                                   settings.keep_days)  # fmt: skip
    return until is not None and at >= until


def purge(
    store: ReleaseStore,
    settings: rules.Airlock,
    at: datetime,
    record_event: Callable[[dict[str, Any]], None],
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Delete the frozen copies due at `at`; return the requests concerned. Each deletion is
    recorded (`record_event` gets the event's fields), then the request is marked purged."""
    purged = []
    for record in store.all():
        if not due(record, settings, at):
            continue
        fields = {
            "project": record["project"],
            "target": record["id"],
            "details": {
                "status": record["status"],
                "ended": record.get("expires") or record["history"][-1]["time"],
                "keep_days": settings.keep_days,
                "files": [
                    {"path": f["path"], "size": f["size"], "sha256": f["sha256"]}
                    for f in record["files"]
                ],  # fmt: skip
            },
        }
        purged.append(fields)
        if dry_run:
            continue
        store.delete_files(record["id"])
        record_event(fields)
        store.update(record["id"], lambda r: {**r, "purged": at.isoformat()})
    return purged
