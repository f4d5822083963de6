"""The usage ledger: append-only JSON lines of server starts and stops and project observations.

One file per calendar month (UTC), `ledger-YYYY-MM.jsonl`, in the hub's state folder, never
inside a container. The hub appends `start` and `stop` records (who, which project, with
which limits); the hub and the usage service append `project` records (plan, members,
storage in use). Lines are appended with the shared journal writer (`hds_records.journal`:
whole lines under an exclusive lock, fsync), so several processes may write at once and a
crash loses at most the line being written (readers skip a torn last line). Invoices are
computed from these files alone (`usage.py`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hds_records import journal

from .plans import Plan

KINDS = ("start", "stop", "project")
FILE_PREFIX, FILE_SUFFIX = "ledger-", ".jsonl"
# Columns of a ledger line and their DuckDB types; a record sets the ones that apply.
COLUMNS = {
    "time": "TIMESTAMPTZ",
    "kind": "VARCHAR",
    "project": "VARCHAR",
    "user": "VARCHAR",
    "server": "VARCHAR",
    "reason": "VARCHAR",
    "plan": "VARCHAR",
    "price_eur_month": "DOUBLE",
    "cpu": "DOUBLE",
    "memory": "BIGINT",
    "storage": "BIGINT",
    "cpu_hours_month": "DOUBLE",
    "running_servers": "INTEGER",
    "members_limit": "INTEGER",
    "idle_timeout": "INTEGER",
    "members": "INTEGER",
    "storage_used": "BIGINT",
    "image": "VARCHAR",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def plan_fields(plan: Plan) -> dict[str, Any]:
    """What a record says about the plan in force: its name, price and every limit."""
    return {
        "plan": plan.name,
        "price_eur_month": plan.price_eur_month,
        "cpu": plan.cpu,
        "memory": plan.memory,
        "storage": plan.storage,
        "cpu_hours_month": plan.cpu_hours_month,
        "running_servers": plan.running_servers,
        "members_limit": plan.members,
        "idle_timeout": plan.idle_timeout,
    }


def server_started(
    plan: Plan, project: str, user: str, members: int, storage_used: int | None, image: str
) -> dict[str, Any]:
    """A server of `user` in `project` starts with `plan`'s limits: compute counts from now."""
    return {
        "kind": "start", "project": project, "user": user, "server": project,
        **plan_fields(plan), "members": members, "storage_used": storage_used, "image": image,
    }  # fmt: skip


def server_stopped(
    project: str, user: str, reason: str, storage_used: int | None = None
) -> dict[str, Any]:
    """The server stopped (`reason`: stopped, quota-compute, exited, not-running)."""
    return {
        "kind": "stop", "project": project, "user": user, "server": project,
        "reason": reason, "storage_used": storage_used,
    }  # fmt: skip


def project_seen(
    plan: Plan, project: str, members: int, storage_used: int | None
) -> dict[str, Any]:
    """The project's state when looked at: its plan, members and storage in use."""
    return {
        "kind": "project", "project": project, **plan_fields(plan),
        "members": members, "storage_used": storage_used,
    }  # fmt: skip


class Ledger:
    """The ledger's folder: append records, list the month files a query needs."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path(self, month: str) -> Path:
        return self.directory / f"{FILE_PREFIX}{month}{FILE_SUFFIX}"

    def append(self, *records: dict[str, Any], now: datetime | None = None) -> None:
        """Write `records` (stamped with `now` unless they carry a time); durable on return."""
        moment = now or utcnow()
        by_file: dict[Path, list[bytes]] = {}
        for record in records:
            if record.get("kind") not in KINDS:
                raise ValueError(f"a ledger record's kind is one of {', '.join(KINDS)}")
            unknown = set(record) - set(COLUMNS)
            if unknown:
                raise ValueError(f"unknown ledger fields {', '.join(sorted(unknown))}")
            line = {"time": timestamp(moment), **record}
            month = line["time"][:7]
            by_file.setdefault(self.path(month), []).append(
                (json.dumps(line, sort_keys=True) + "\n").encode()
            )
        for path, lines in by_file.items():
            journal.append(path, lines)

    def files(self, until_month: str | None = None, since_month: str = "") -> list[Path]:
        """Month files from `since_month` up to `until_month` (sessions that began earlier
        may run into a month: a summary reads every file up to it)."""
        if not self.directory.is_dir():
            return []
        found = sorted(self.directory.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))
        months = [(p.name[len(FILE_PREFIX) : -len(FILE_SUFFIX)], p) for p in found]
        return [
            p for m, p in months if since_month <= m and (until_month is None or m <= until_month)
        ]
