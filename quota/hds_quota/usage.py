"""Usage from the ledger, with DuckDB: sessions, compute used, and the monthly summary per project.

Compute is sold as CPU-hours: a server counts its plan's CPU limit for every hour it runs
(wall time x CPU limit, as recorded when it started), whatever it does with it. A session
runs from its `start` record to the next `stop` (or `start`) record of the same user and
project; a session still open counts until now. A session spanning months counts in each
for the part that falls in it. Months are calendar months in UTC.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

import duckdb

from .ledger import COLUMNS, Ledger, utcnow

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = MONTH.match(text or "")
        if not match:
            raise ValueError(f"write the month as YYYY-MM (like 2026-05), not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.following.start

    @property
    def following(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class ProjectMonth:
    """One line of the monthly summary: what a project used and owes for one month.

    `plan` is the plan billed, the highest-priced one the project was on during the month
    (`plans_seen` lists them all); `cpu_hours_included` and `storage_bytes` are that plan's.
    `members` is the most members seen, `active_users` those who ran a server, and
    `peak_storage_bytes` the most its files took when sampled.
    """

    month: str
    project: str
    plan: str
    plans_seen: str
    amount_due_eur: float
    members: int
    active_users: int
    sessions: int
    server_hours: float
    cpu_hours: float
    cpu_hours_included: float
    peak_storage_bytes: int
    storage_bytes: int


@dataclass(frozen=True)
class Session:
    """One server run, clipped to the month asked for."""

    project: str
    user: str
    plan: str
    cpu: float
    memory: int
    started: datetime
    stopped: datetime | None
    hours: float
    cpu_hours: float


SESSIONS_SQL = """
WITH ledger AS (
    SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {columns},
                            ignore_errors = true)
    WHERE kind IS NOT NULL AND time IS NOT NULL
),
edges AS (
    SELECT *, lead(time) OVER (PARTITION BY project, "user", server
                               ORDER BY time, kind = 'start') AS next_time
    FROM ledger WHERE kind IN ('start', 'stop')
),
sessions AS (
    SELECT project, "user", plan, price_eur_month, cpu_hours_month, cpu, memory, storage,
           time AS started, next_time AS stopped,
           greatest(time, $start) AS counted_from,
           least(coalesce(next_time, $now), $now, $end) AS counted_to
    FROM edges WHERE kind = 'start'
),
in_month AS (
    SELECT *, epoch(counted_to - counted_from) / 3600 AS hours,
              epoch(counted_to - counted_from) / 3600 * cpu AS cpu_hours
    FROM sessions WHERE counted_to > counted_from
)
"""

SUMMARY_SQL = """
, observed AS (
    SELECT project, plan, price_eur_month, cpu_hours_month, storage, time FROM ledger
    WHERE time >= $start AND time < $end AND plan IS NOT NULL
    UNION ALL
    SELECT project, plan, price_eur_month, cpu_hours_month, storage, started FROM in_month
),
billed AS (
    SELECT project,
           arg_max(plan, price_eur_month) AS plan,
           string_agg(DISTINCT plan, ', ' ORDER BY plan) AS plans_seen,
           max(price_eur_month) AS amount_due_eur,
           arg_max(cpu_hours_month, price_eur_month) AS cpu_hours_included,
           arg_max(storage, price_eur_month) AS storage_bytes
    FROM observed GROUP BY project
),
people AS (
    SELECT project, max(members) AS members, max(storage_used) AS peak_storage_bytes
    FROM ledger WHERE time >= $start AND time < $end GROUP BY project
),
compute AS (
    SELECT project, count(*) AS sessions, count(DISTINCT "user") AS active_users,
           sum(hours) AS server_hours, sum(cpu_hours) AS cpu_hours
    FROM in_month GROUP BY project
)
SELECT $label AS month, billed.project, billed.plan, billed.plans_seen,
       billed.amount_due_eur, coalesce(people.members, 0) AS members,
       coalesce(compute.active_users, 0) AS active_users,
       coalesce(compute.sessions, 0) AS sessions,
       round(coalesce(compute.server_hours, 0), 4) AS server_hours,
       round(coalesce(compute.cpu_hours, 0), 4) AS cpu_hours,
       billed.cpu_hours_included,
       coalesce(people.peak_storage_bytes, 0) AS peak_storage_bytes,
       coalesce(billed.storage_bytes, 0) AS storage_bytes
FROM billed
LEFT JOIN people USING (project)
LEFT JOIN compute USING (project)
ORDER BY billed.project
"""

SESSIONS_LIST_SQL = (
    SESSIONS_SQL
    + """
SELECT project, "user", plan, cpu, memory, started, stopped, hours, cpu_hours FROM in_month
WHERE $project IS NULL OR project = $project ORDER BY started, "user"
"""
)

CPU_HOURS_BY_PROJECT_SQL = (
    SESSIONS_SQL
    + """
SELECT project, sum(cpu_hours) FROM in_month GROUP BY project
"""
)


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _columns() -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items()) + "}"


class Usage:
    """Queries over a ledger folder; every call reads the files afresh."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def _query(
        self,
        sql: str,
        month: Month,
        now: datetime | None,
        bare: bool = False,
        since: Month | None = None,
        **params: Any,
    ) -> list[tuple]:
        since_month = str(since) if since else ""
        files = [str(p) for p in self.ledger.files(str(month), since_month)]
        if not files:
            return []
        moment = min(now or utcnow(), month.end)
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            text = sql.format(files=_sql_list(files), columns=_columns())
            values = params if bare else {"start": month.start, "end": month.end, "now": moment}
            values = {**values, **params}
            return con.execute(text, values).fetchall()
        finally:
            con.close()

    def summary(self, month: Month, now: datetime | None = None) -> list[ProjectMonth]:
        """One line per project seen in `month`: plan, amount due, compute, storage, people."""
        rows = self._query(SESSIONS_SQL + SUMMARY_SQL, month, now, label=str(month))
        return [ProjectMonth(*row) for row in rows]

    def sessions(
        self, month: Month, project: str | None = None, now: datetime | None = None
    ) -> list[Session]:
        """Every server run counted in `month` (optionally of one project), oldest first."""
        rows = self._query(SESSIONS_LIST_SQL, month, now, project=project)
        return [Session(*row) for row in rows]

    def open_sessions(self) -> list[tuple[str, str, datetime]]:
        """(project, user, started) of every server the ledger says is running."""
        sql = (
            "WITH ledger AS (SELECT * FROM read_json({files}, format = 'newline_delimited', "
            "columns = {columns}, ignore_errors = true) WHERE kind IN ('start', 'stop')) "
            'SELECT project, "user", max(time) FROM ledger GROUP BY project, "user" '
            "HAVING arg_max(kind, (time, kind = 'start')) = 'start' ORDER BY 1, 2"
        )
        return [tuple(row) for row in self._query(sql, Month.of(utcnow()), None, bare=True)]

    def is_open(self, project: str, user: str) -> bool:
        """Whether the ledger's last word on `user`'s server of `project` is a start."""
        sql = (
            "WITH ledger AS (SELECT * FROM read_json({files}, format = 'newline_delimited', "
            "columns = {columns}, ignore_errors = true)) "
            'SELECT kind FROM ledger WHERE project = $p AND "user" = $u '
            "AND kind IN ('start', 'stop') ORDER BY time DESC, kind = 'start' DESC LIMIT 1"
        )
        rows = self._query(sql, Month.of(utcnow()), None, p=project, u=user, bare=True)
        return bool(rows) and rows[0][0] == "start"

    def cpu_hours_by_project(
        self, month: Month, now: datetime | None = None, window: int = 2
    ) -> dict[str, float]:
        """Compute used in `month` by every project, reading only the last `window` month
        files: exact unless one server ran without a stop for longer than a whole month
        before (docs/quotas.md). One scan for all projects: what the hub's watch uses."""
        since = month
        for _ in range(window - 1):
            since = since.previous
        rows = self._query(CPU_HOURS_BY_PROJECT_SQL, month, now, since=since)
        return {project: float(used) for project, used in rows}


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet (no formula from a name like `=cmd|...`)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def to_csv(rows: list[ProjectMonth] | list[Session], kind: type) -> str:
    """Rows as CSV text with a header line (the dataclass's field names)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in fields(kind)])
    for row in rows:
        writer.writerow([csv_cell(v) for v in asdict(row).values()])
    return out.getvalue()


def gib(size: int | float | None) -> str:
    """A size for people: `19.5 GiB`, `57 MiB`."""
    if not size:
        return "0"
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GiB".replace(".0 GiB", " GiB")
    return f"{size / 1024**2:.0f} MiB"
