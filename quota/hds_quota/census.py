"""The census: what every project is on and holds, recorded in the ledger by the usage service.

Run every hour (and at the service's start), it records for each project its plan, members
and storage in use, so a month's summary knows every project that existed in it, not only
those whose servers ran. It also closes ledger sessions of servers the hub no longer runs
(a stop the hub could not record, e.g. it was killed while stopping one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from .ledger import Ledger, project_seen, server_stopped, utcnow
from .plans import Plans
from .usage import Usage
from .volumes import ProjectVolumes, StorageError

log = logging.getLogger("hds_quota.census")


def project_records(
    projects: dict[str, dict[str, Any]], plans: Plans, volumes: ProjectVolumes
) -> list[dict[str, Any]]:
    """One `project` record per project (its hub group's model) with a defined plan."""
    records = []
    for name, group in sorted(projects.items()):
        properties = group.get("properties") or {}
        try:
            plan = plans.get(str(properties.get("plan", "")))
        except ValueError as error:
            log.warning("census: project %s not recorded: %s", name, error)
            continue
        try:
            usage = volumes.usage(name)
        except (StorageError, OSError) as error:
            log.warning("census: storage of %s unreadable: %s", name, error)
            usage = None
        used = usage.used if usage else None
        records.append(project_seen(plan, name, len(group.get("users") or []), used))
    return records


def dangling_stops(
    open_sessions: Iterable[tuple[str, str, datetime]],
    active: set[tuple[str, str]],
    now: datetime,
    grace: timedelta = timedelta(minutes=10),
) -> list[dict[str, Any]]:
    """Stop records for sessions open in the ledger whose server the hub does not run.

    Read the ledger before asking the hub which servers are active, so that a server
    starting in between is seen running; `grace` spares sessions that have just begun.
    """
    return [
        server_stopped(project, user, "not-running")
        for project, user, started in open_sessions
        if (user, project) not in active and now - started > grace
    ]


def changed_records(
    records: list[dict[str, Any]], last: dict[str, tuple[str, str]], month: str
) -> list[dict[str, Any]]:
    """`records` less those equal to their project's last one written in `month`.

    `last` (project -> (month, record)) is what the caller wrote before; each month starts
    with every project, so a month's summary still knows every project that existed in it.
    """
    return [r for r in records if last.get(r["project"]) != (month, _key(r))]


def _key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def take_census(
    ledger: Ledger,
    plans: Plans,
    volumes: ProjectVolumes,
    projects: dict[str, dict[str, Any]],
    active: Any,
    last: dict[str, tuple[str, str]] | None = None,
) -> int:
    """Record every project's state and close dangling sessions; return records written.

    `projects` are the project groups' models (users, properties); `active` is called
    after the ledger is read and returns the hub's active (user, server) pairs. With `last`
    (kept by the caller between censuses), a project whose state has not changed this month
    is not written again.
    """
    now = utcnow()
    month = now.strftime("%Y-%m")
    sessions = Usage(ledger).open_sessions()
    seen = project_records(projects, plans, volumes)
    records = seen if last is None else changed_records(seen, last, month)
    records += dangling_stops(sessions, set(active()), now)
    if records:
        ledger.append(*records, now=now)
    if last is not None:
        last.update({r["project"]: (month, _key(r)) for r in seen})
    return len(records)
