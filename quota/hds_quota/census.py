"""The census: what every project is on and holds, recorded in the ledger by the usage service.

Run every hour (and at the service's start), it records for each project its plan, members
and storage in use, so a month's summary knows every project that existed in it, not only
those whose servers ran. It also closes ledger sessions of servers the hub no longer runs
(a stop the hub could not record, e.g. it was killed while stopping one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from jupyter_hds.projects import is_project

from .ledger import Ledger, project_seen, server_stopped, utcnow
from .plans import Plans
from .usage import Usage
from .volumes import ProjectVolumes, StorageError

log = logging.getLogger("hds_quota.census")


def project_records(
    groups: dict[str, dict[str, Any]], plans: Plans, volumes: ProjectVolumes
) -> list[dict[str, Any]]:
    """One `project` record per project group with a defined plan."""
    records = []
    for name, group in sorted(groups.items()):
        properties = group.get("properties") or {}
        if not is_project(properties):
            continue
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


def take_census(
    ledger: Ledger,
    plans: Plans,
    volumes: ProjectVolumes,
    groups: dict[str, dict[str, Any]],
    active: Any,
) -> int:
    """Record every project's state and close dangling sessions; return records written.

    `active` is called after the ledger is read and returns the hub's active
    (user, server) pairs.
    """
    sessions = Usage(ledger).open_sessions()
    records = project_records(groups, plans, volumes)
    records += dangling_stops(sessions, set(active()), utcnow())
    if records:
        ledger.append(*records)
    return len(records)
