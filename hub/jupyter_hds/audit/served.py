"""What each member of a project was sent in their browser today, summed from the audit record.

The data guard in users' servers records every byte it sends a browser before sending it:
reads with their size (`file.read`, `dataset.read`) and shares of the daily budget taken
ahead (`browser.budget.reserved`), each carrying `details.served`. The hub hands the sums to
every server it starts (`$HDS_BROWSER_SERVED`), so a person's day goes on counting across
restarts. Code in a container can post events with its server's token, so it could add
bytes (refusing itself sooner), never remove any: negative or malformed figures count as 0.
Events still in the inbox (not yet chained) count too; an event in both is counted once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from .query import AuditQuery

log = logging.getLogger("jupyter_hds.audit")
# Sums are read off the hub's event loop, while the spawner prepares the container.
READER = ThreadPoolExecutor(2, thread_name_prefix="audit-served")
WAIT = 30.0
# Readings of the record and the inbox while the audit service changes them (see served_today).
ATTEMPTS = 5
UNREADABLE_MESSAGE = (
    "The server cannot start: what your browser received today from this project is counted "
    "from the audit record, and the record cannot be read now. Try again in a minute; if it "
    "lasts, tell the hosting team."
)

COUNTED = ("file.read", "dataset.read", "browser.budget.reserved", "browser.budget.exceeded")
INBOX_COLUMNS = (
    "{'id': 'VARCHAR', 'time': 'VARCHAR', 'actor': 'VARCHAR', 'action': 'VARCHAR', "
    "'project': 'VARCHAR', 'reported_by': 'VARCHAR', 'details': 'VARCHAR'}"
)
FIELDS = "id, time, actor, action, project, reported_by, details"
SUMS = """
SELECT actor,
       sum(greatest(coalesce(try_cast(json_extract_string(details, '$.served') AS BIGINT), 0),
                    0)) AS served,
       bool_or(action = 'browser.budget.exceeded') AS exceeded
FROM (SELECT DISTINCT ON (id) * FROM ({events}))
WHERE project = ? AND time >= ? AND time < ? AND starts_with(reported_by, 'server:')
  AND action IN ({actions})
GROUP BY actor
"""


def served_today(directory: Path | str, project: str, today: date | None = None
                 ) -> dict[str, Any]:  # fmt: skip
    """{"day": "YYYY-MM-DD", "served": {person: bytes}, "exceeded": [person]} for `project`."""
    day = today or datetime.now(UTC).date()
    start, end = f"{day.isoformat()}T", f"{(day + timedelta(days=1)).isoformat()}T"
    actions = ", ".join("?" for _ in COUNTED)
    with duckdb.connect() as db:
        for attempt in range(1, ATTEMPTS + 1):
            # A segment sealed, or an inbox file claimed or drained, between the listing and
            # the reading: list again (never skip a file, which would count its events as 0).
            try:
                sql = SUMS.format(events=_events(Path(directory)), actions=actions)
                rows = db.execute(sql, [project, start, end, *COUNTED]).fetchall()
                break
            except (duckdb.IOException, FileNotFoundError):
                if attempt == ATTEMPTS:
                    raise
                time.sleep(0.01 * attempt)
    return {
        "day": day.isoformat(),
        "served": {actor: int(served) for actor, served, _ in rows if served},
        "exceeded": sorted(actor for actor, _, exceeded in rows if exceeded),
    }


def environment_value(directory: Path | str, project: str) -> str:
    """`served_today` as the JSON a user server reads from $HDS_BROWSER_SERVED."""
    return json.dumps(served_today(directory, project), separators=(",", ":"))


def budget_environment(directory: Path | str, project: str, bytes_day: int) -> dict[str, Any]:
    """The data guard's budget settings for a server of `project` starting now (any spawner):
    the plan's daily limit, and what each member was already sent today (summed in a thread;
    JupyterHub calls the value when it builds the server's environment)."""
    return {
        "HDS_BROWSER_BYTES_DAY": str(bytes_day),
        "HDS_BROWSER_SERVED": environment_later(directory, project),
    }


def environment_later(directory: Path | str, project: str) -> Callable[[Any], str]:
    """Start summing now, in a thread; the value for `Spawner.environment`, which JupyterHub
    calls (with the spawner) when it builds the server's environment, usually after the sum
    is ready. A record that cannot be read (or not within `WAIT` seconds) stops the start:
    a server that began the day from zero would send past the budget (fail closed)."""
    future = READER.submit(environment_value, directory, project)

    def value(_spawner: Any = None) -> str:
        try:
            return future.result(timeout=WAIT)
        except Exception:
            log.exception("audit: cannot sum what %s's members were sent today; the server "
                          "does not start", project)  # fmt: skip
            raise RuntimeError(UNREADABLE_MESSAGE) from None

    value.summing = future  # type: ignore[attr-defined]  # read by `settled`
    return value


async def settled(environment: dict[str, Any]) -> None:
    """Wait, without holding up the hub's event loop, for the sums `environment_later` started
    for `environment` (JupyterHub calls the values from the loop: an unfinished sum would stop
    every other request and start for as long as it runs, twenty servers starting at once)."""
    pending = [asyncio.wrap_future(value.summing) for value in environment.values()
               if getattr(value, "summing", None) is not None]  # fmt: skip
    if pending:
        await asyncio.wait(pending, timeout=WAIT)  # a failure is raised where the value is used


def _events(directory: Path) -> str:
    """The record's entries and the inbox's events, as one SQL table expression."""
    parts = [f"SELECT {FIELDS} FROM {AuditQuery(directory).source()}"]  # noqa: S608
    inbox = [str(p) for p in sorted((directory / "inbox").glob("*")) if _inbox_file(p)]
    if inbox:
        files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in inbox) + "]"
        parts.append(
            f"SELECT {FIELDS} FROM read_json({files}, format = 'newline_delimited', "  # noqa: S608
            f"columns = {INBOX_COLUMNS}, ignore_errors = true)"
        )
    return " UNION ALL ".join(parts)


def _inbox_file(path: Path) -> bool:
    """A non-empty inbox file; FileNotFoundError when it went since it was listed."""
    if path.suffix not in (".jsonl", ".claimed"):
        return False
    found = path.stat()
    return stat.S_ISREG(found.st_mode) and found.st_size > 0
