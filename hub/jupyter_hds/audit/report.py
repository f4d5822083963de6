"""The access report: one project's month of dataset reads, refusals, releases and sessions, with
anomalies, computed by DuckDB over the audit record (sealed Parquet and open JSON lines)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
from traitlets import Integer, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from .query import NAME, AuditQuery

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Refused attempts to take data out: the data guard's refusals and refused release downloads.
OUTWARD = (
    "download.blocked",
    "export.blocked",
    "dataset.read.blocked",
    "dataset.copy.blocked",
    "dataset.move.blocked",
    "airlock.downloaded",
    "browser.budget.exceeded",
)
SESSION_ACTIONS = ("server.started", "server.stopped", "server.exited")
# The anomaly rules, by name: their label (never shown by colour alone) and what they mean.
RULES = {
    "refusal-burst": "burst of refusals",
    "night-reads": "reads at night",
    "new-files": "many new files at once",
}
CSV_HEADER = (
    "project", "month", "section", "person", "item", "count", "first", "last", "seconds",
    "anomaly", "detail",
)  # fmt: skip


def host_zone() -> str:
    """The host's IANA time zone: $TZ, else /etc/localtime's target, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(os.readlink("/etc/localtime").split("zoneinfo/", 1)[-1])
    for name in candidates:
        if name and known_zone(name):
            return name
    return "UTC"


def known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class AccessReport(LoggingConfigurable):
    """The auditors' monthly access report: its time zone and the rules that flag anomalies."""

    time_zone = Unicode(
        help="""Time zone of the report (IANA name, e.g. Europe/Paris): months begin at
        midnight there, times are shown there, and 'night' is judged there. Default: the
        hub's host zone ($TZ or /etc/localtime), else UTC.""",
    ).tag(config=True)

    working_hours = Unicode(
        "07:00-20:00",
        help="""Working hours in the report's time zone, HH:MM-HH:MM. A dataset read outside
        them is a read at night (an anomaly). A range that wraps past midnight (22:00-06:00)
        is allowed, for night teams.""",
    ).tag(config=True)

    refusal_burst = Integer(
        5,
        min=2,
        help="""A burst of refusals: at least this many refused attempts to take data out
        (downloads, exports, raw reads, copies or moves of dataset files, release downloads)
        by one person within `refusal_burst_minutes`.""",
    ).tag(config=True)

    refusal_burst_minutes = Integer(
        10, min=1, help="The span, in minutes, in which `refusal_burst` refusals are a burst."
    ).tag(config=True)

    new_files_burst = Integer(
        20,
        min=2,
        help="""Many new files at once: at least this many dataset files that a person had
        never opened before in the project (anywhere in the record) opened by them within
        `new_files_minutes`.""",
    ).tag(config=True)

    new_files_minutes = Integer(
        60, min=1, help="The span, in minutes, in which `new_files_burst` new files are a burst."
    ).tag(config=True)

    @default("time_zone")
    def _default_zone(self) -> str:
        return host_zone()

    @validate("time_zone")
    def _check_zone(self, proposal):
        if not known_zone(proposal.value):
            raise TraitError(
                f"time zone {proposal.value!r} is not known; write an IANA name such as "
                "Europe/Paris or UTC"
            )
        return proposal.value

    @validate("working_hours")
    def _check_hours(self, proposal):
        match = HOURS.match(proposal.value.strip())
        if not match or match.group(1, 2) == match.group(3, 4):
            raise TraitError(
                f"working hours {proposal.value!r}: write HH:MM-HH:MM, start and end "
                "different, e.g. 07:00-20:00"
            )
        return proposal.value.strip()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def hours(self) -> tuple[int, int]:
        """Working hours as minutes after midnight: (start, end)."""
        start, end = self.working_hours.split("-")
        return _minutes(start), _minutes(end)

    def explain(self) -> dict[str, str]:
        """Each rule in one sentence, with this configuration's numbers."""
        return {
            "refusal-burst": f"{self.refusal_burst} or more refused attempts to take data out "
            f"(downloads, exports, raw reads, copies or moves of dataset files, release "
            "downloads, the day's browser budget) by one person within "
            f"{self.refusal_burst_minutes} minutes.",
            "night-reads": f"dataset files opened outside working hours ({self.working_hours}, "
            f"{self.time_zone}); the reads of one night are one anomaly.",
            "new-files": f"{self.new_files_burst} or more dataset files that the person had "
            "never opened before in this project (anywhere in the record) opened within "
            f"{self.new_files_minutes} minutes.",
        }


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = MONTH.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
            raise ValueError(f"month {text!r}: write a month as YYYY-MM, e.g. 2025-06")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return date(self.year, self.month, 1).strftime("%B %Y")

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The month's first instant and the next month's, in UTC (midnight in `zone`)."""
        following = self.next()
        start = datetime(self.year, self.month, 1, tzinfo=zone)
        end = datetime(following.year, following.month, 1, tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)


def parse_request(project: str | None, month: str | None) -> tuple[str, Month]:
    """The project and month an auditor asked for; ValueError says what to write instead."""
    project = (project or "").strip()
    if not project:
        raise ValueError("choose a project")
    if not NAME.match(project):
        raise ValueError(f"project {project!r}: use a project's name, without spaces or quotes")
    return project, Month.parse(month or "")


# -- what the report holds ---------------------------------------------------------------


@dataclass(frozen=True)
class FileReads:
    person: str
    file: str
    reads: int
    night: int  # of them, outside working hours
    first: datetime
    last: datetime
    new: bool  # first opened by this person in this project this month
    in_burst: bool  # its first read belongs to a new-files burst


@dataclass(frozen=True)
class Refusal:
    seq: int
    person: str
    time: datetime
    action: str
    target: str | None
    reason: str | None
    in_burst: bool


@dataclass(frozen=True)
class Release:
    seq: int
    time: datetime
    person: str | None
    action: str
    outcome: str
    request: str | None
    summary: str


@dataclass(frozen=True)
class Session:
    person: str
    server: str
    started: datetime
    ended: datetime
    began_before: bool  # running when the month began: counted from its first instant
    end: str  # stopped, exited, exited (failed), or no stop recorded

    @property
    def seconds(self) -> int:
        return int((self.ended - self.started).total_seconds())


@dataclass(frozen=True)
class Anomaly:
    person: str
    rule: str  # a key of RULES
    first: datetime
    last: datetime
    count: int
    text: str

    @property
    def label(self) -> str:
        return RULES[self.rule]


@dataclass
class Person:
    name: str
    reads: int = 0
    files: int = 0
    first_read: datetime | None = None
    last_read: datetime | None = None
    refusals: int = 0
    releases: dict[str, int] = field(default_factory=dict)  # action (without airlock.) -> n
    sessions: int = 0
    session_seconds: int = 0
    opens: int = 0
    anomalies: list[str] = field(default_factory=list)  # rule keys, once each


@dataclass(frozen=True)
class Report:
    project: str
    month: Month
    time_zone: str
    generated: datetime
    rules: dict[str, str]
    people: list[Person]
    reads: list[FileReads]
    refusals: list[Refusal]
    releases: list[Release]
    sessions: list[Session]
    anomalies: list[Anomaly]

    def refusal_groups(self) -> list[dict[str, Any]]:
        """Refusals by person and action: how many, first, last, how many in a burst."""
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for refusal in self.refusals:
            key = (refusal.person, refusal.action)
            group = groups.setdefault(key, {"person": key[0], "action": key[1], "count": 0,
                                            "first": refusal.time, "in_burst": 0})  # fmt: skip
            group["count"] += 1
            group["last"] = refusal.time
            group["in_burst"] += refusal.in_burst
        return sorted(groups.values(), key=lambda g: (g["person"], -g["count"], g["action"]))


# -- computing it --------------------------------------------------------------------------


def build(
    query: AuditQuery, project: str, month: Month, rules: AccessReport,
    now: datetime | None = None,
) -> Report:  # fmt: skip
    """The report of `project` for `month`, over whatever segments `query`'s record has now.

    Retried once if a segment is sealed while it is read (as AuditQuery does).
    """
    for attempt in (1, 2):
        try:
            return _Builder(query.source(), project, month, rules, now).run()
        except duckdb.IOException:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


_database: duckdb.DuckDBPyConnection | None = None
_database_lock = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """A connection of its own (for its temporary tables) to one database per process, whose
    cache of Parquet footers the reports share."""
    global _database
    with _database_lock:
        if _database is None:
            _database = duckdb.connect()
            _database.execute("SET parquet_metadata_cache = true")
        return _database.cursor()


class _Builder:
    """One report's queries, on a connection of its own (its temporary tables)."""

    def __init__(self, source: str, project: str, month: Month, rules: AccessReport,
                 now: datetime | None) -> None:  # fmt: skip
        self.source, self.project, self.month, self.rules = source, project, month, rules
        self.zone = rules.zone
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        self.start, self.end = month.bounds(self.zone)
        self.cutoff = min(self.end, self.now)
        self.db = _connection()
        self.db.execute("SET TimeZone = 'UTC'")  # TIMESTAMP values are UTC instants

    def run(self) -> Report:
        try:
            self._load()
            # Times come back as the zone's (DuckDB converts them faster than Python does).
            self.db.execute(f"SET TimeZone = '{self.rules.time_zone}'")
            self.db.execute("CREATE TEMP MACRO here(t) AS timezone('UTC', t)")
            reads, new_files = self._reads()
            refusals, refusal_bursts = self._refusals()
            releases = self._releases()
            anomalies = sorted(new_files + refusal_bursts + self._nights(),
                               key=lambda a: (a.first, a.person, a.rule))  # fmt: skip
            return Report(
                project=self.project, month=self.month, time_zone=self.rules.time_zone,
                generated=self.now.astimezone(self.zone), rules=self.rules.explain(),
                people=self._people(releases, anomalies), reads=reads, refusals=refusals,
                releases=releases, sessions=self._sessions(), anomalies=anomalies,
            )  # fmt: skip
        finally:
            self.db.close()

    def _sql(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params or []).fetchall()

    def _load(self) -> None:
        """Two scans of the record: the month (`m`) and the project's past before it (`h`)."""
        start, end = _text(self.start), _text(self.end)
        work_start, work_end = self.rules.hours()
        minute = "(hour(local) * 60 + minute(local))"
        joined = "AND" if work_start < work_end else "OR"
        working = f"({minute} >= {work_start} {joined} {minute} < {work_end})"
        # The person an entry is about: the server's owner for its life, the requester for
        # what the hub does on a release, else whoever acted. Details are kept where read.
        entries = f"""
            SELECT *, CASE WHEN action = 'dataset.read' THEN {working} END AS working
            FROM (
                SELECT seq, ts, CASE WHEN action = 'dataset.read' THEN {self._offset()} END
                       AS local, actor, action, project, target, outcome,
                       CASE WHEN outcome = 'refused' OR starts_with(action, 'airlock.')
                            THEN details END AS details,
                       CASE WHEN action IN ('server.started', 'server.stopped', 'server.exited')
                                 THEN split_part(target, '/', 1)
                            WHEN starts_with(actor, 'service:') OR starts_with(actor, 'provider:')
                                 THEN CASE WHEN json_valid(details)
                                           THEN json_extract_string(details, '$.requester') END
                            ELSE actor END AS person
                FROM (SELECT *, coalesce(try_strptime(time, '{TIME_FORMAT}'),
                                         CAST(CAST(time AS TIMESTAMPTZ) AS TIMESTAMP)) AS ts
                      FROM {self.source} WHERE time >= ? AND time < ? AND WHERE_MORE))
        """  # noqa: S608 (fixed text, segment paths, validated numbers)
        # Two scans, each with filters Parquet can push down: the project's entries, then
        # the steps of releases that name no project (refusals), kept below if they are
        # this project's.
        self._sql("CREATE TEMP TABLE m AS " + entries.replace("WHERE_MORE", "project = ?"),
                  [start, end, self.project])  # fmt: skip
        self._sql("INSERT INTO m " + entries.replace(
            "WHERE_MORE", "project IS NULL AND action >= 'airlock.' AND action < 'airlock/'"),
            [start, end])  # fmt: skip
        self._sql(f"""
            CREATE TEMP TABLE h AS
            SELECT action, actor, target, outcome, max(time) AS last
            FROM {self.source}
            WHERE project = ? AND time < ?
              AND (action IN ('dataset.read', 'server.started', 'server.stopped', 'server.exited')
                   OR starts_with(action, 'airlock.'))
            GROUP BY ALL
        """, [self.project, start])  # noqa: S608  # fmt: skip
        # A release's refusals name no project: they count when the request is this project's.
        self._sql("""
            DELETE FROM m WHERE project IS NULL AND target NOT IN (
                SELECT target FROM h WHERE starts_with(action, 'airlock.') AND target IS NOT NULL
                UNION SELECT target FROM m WHERE project IS NOT NULL
                    AND starts_with(action, 'airlock.') AND target IS NOT NULL)
                OR project IS NULL AND target IS NULL
        """)
        self._sql("""
            CREATE TEMP VIEW reads AS SELECT seq, person, target AS file, ts, local, working FROM m
            WHERE action = 'dataset.read' AND outcome = 'allowed' AND person IS NOT NULL
        """)

    def _offset(self) -> str:
        """SQL: `ts` (UTC) in the report's zone, by the zone's offsets over the month (an
        arithmetic CASE: much faster than a time-zone conversion per row)."""
        *changes, (_, last) = _offsets(self.zone, self.start, self.end)
        cases = "".join(
            f"WHEN ts < TIMESTAMP '{_naive(until):%Y-%m-%d %H:%M:%S}' THEN {seconds} "
            for until, seconds in changes
        )
        return (
            f"ts + to_seconds(CASE {cases}ELSE {last} END)" if cases else f"ts + to_seconds({last})"
        )

    def _reads(self) -> tuple[list[FileReads], list[Anomaly]]:
        """Reads per person and file; bursts of files never opened before."""
        self._sql("""
            CREATE TEMP TABLE firsts AS
            SELECT person, file, min(ts) AS ts FROM reads
            WHERE NOT EXISTS (SELECT 1 FROM h WHERE h.action = 'dataset.read'
                              AND h.outcome = 'allowed' AND h.actor = reads.person
                              AND h.target = reads.file)
            GROUP BY ALL
        """)
        bursts = self._bursts("SELECT person, ts FROM firsts", self.rules.new_files_burst,
                              self.rules.new_files_minutes)  # fmt: skip
        rows = self._sql("""
            SELECT r.person, r.file, count(*), count(*) FILTER (WHERE NOT r.working),
                   here(min(r.ts)), here(max(r.ts)), here(any_value(f.ts))
            FROM reads r LEFT JOIN firsts f ON f.person = r.person AND f.file = r.file
            GROUP BY ALL ORDER BY r.person, r.file
        """)
        reads = [
            FileReads(person, file, count, night, first, last, new=new is not None,
                      in_burst=new is not None and _within(bursts, person, new))
            for person, file, count, night, first, last, new in rows
        ]  # fmt: skip
        anomalies = [
            Anomaly(person, "new-files", lo, hi, count,
                    f"{count} files never opened before, within {_span(hi - lo)}")
            for person, lo, hi, count in _flatten(bursts)
        ]  # fmt: skip
        return reads, anomalies

    def _nights(self) -> list[Anomaly]:
        """One anomaly per person and night with reads outside working hours."""
        _, work_end = self.rules.hours()
        rows = self._sql("""
            SELECT person, CAST(local - to_minutes(?) AS DATE) AS night, count(*),
                   count(DISTINCT file), here(min(ts)), here(max(ts))
            FROM reads WHERE NOT working GROUP BY ALL ORDER BY 5
        """, [work_end])  # fmt: skip
        return [
            Anomaly(person, "night-reads", first, last, count,
                    f"{count} read(s) of {files} file(s) in the night from {night:%Y-%m-%d} "
                    f"to {night + timedelta(days=1):%Y-%m-%d}")
            for person, night, count, files, first, last in rows
        ]  # fmt: skip

    def _refusals(self) -> tuple[list[Refusal], list[Anomaly]]:
        """Every refusal of the month; bursts of refused attempts to take data out."""
        bursts = self._bursts(
            "SELECT person, ts FROM m WHERE outcome = 'refused' AND list_contains(?, action)"
            " AND person IS NOT NULL",
            self.rules.refusal_burst, self.rules.refusal_burst_minutes, [list(OUTWARD)],
        )  # fmt: skip
        rows = self._sql("""
            SELECT seq, coalesce(person, actor), here(ts), action, target,
                   CASE WHEN json_valid(details) THEN json_extract_string(details, '$.reason') END
            FROM m WHERE outcome = 'refused' ORDER BY ts, seq
        """)
        refusals = [
            Refusal(seq, person, ts, action, target, reason,
                    action in OUTWARD and _within(bursts, person, ts))
            for seq, person, ts, action, target, reason in rows
        ]  # fmt: skip
        anomalies = [
            Anomaly(person, "refusal-burst", lo, hi, count,
                    f"{count} refused attempts to take data out within {_span(hi - lo)}")
            for person, lo, hi, count in _flatten(bursts)
        ]  # fmt: skip
        return refusals, anomalies

    def _bursts(
        self, events: str, least: int, minutes: int, params: list[Any] | None = None
    ) -> dict[str, list[tuple]]:
        """Per person, the bursts among `events` (SQL: person, ts; its `params`): (first,
        last, count).

        An event is in a burst when some span of `minutes` holds it and at least `least`
        events; overlapping such spans are one burst.
        """
        rows = self._sql(f"""
            WITH ev AS ({events}),
            counted AS (
                SELECT person, ts, count(*) OVER (PARTITION BY person ORDER BY ts
                    RANGE BETWEEN to_minutes(?) PRECEDING AND CURRENT ROW) AS n
                FROM ev),
            spans AS (SELECT person, ts - to_minutes(?) AS lo, ts AS hi FROM counted WHERE n >= ?),
            marked AS (
                SELECT *, CASE WHEN lo <= max(hi) OVER (PARTITION BY person ORDER BY hi
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS fresh
                FROM spans),
            islands AS (
                SELECT person, min(lo) AS lo, max(hi) AS hi FROM (
                    SELECT *, sum(fresh) OVER (PARTITION BY person ORDER BY hi
                        ROWS UNBOUNDED PRECEDING) AS island FROM marked)
                GROUP BY person, island)
            SELECT i.person, here(min(ev.ts)), here(max(ev.ts)), count(*)
            FROM islands i JOIN ev ON ev.person = i.person AND ev.ts BETWEEN i.lo AND i.hi
            GROUP BY i.person, i.lo ORDER BY 2
        """, [*(params or []), minutes, minutes, least])  # noqa: S608 (the caller's fixed SQL)  # fmt: skip
        found: dict[str, list[tuple]] = defaultdict(list)
        for person, first, last, count in rows:
            found[person].append((first, last, count))
        return found

    def _load_sessions(self) -> None:
        """The month's runs of each server: a start to the next stop or exit, else to the
        next start or the month's end (or now); a server running when the month began
        counts from its first instant."""
        start, cutoff = _naive(self.start), _naive(self.cutoff)
        self._sql("""
            CREATE TEMP TABLE sessions AS
            WITH open_at_start AS (
                SELECT target FROM h WHERE action IN ('server.started', 'server.stopped',
                    'server.exited')
                GROUP BY target
                HAVING arg_max(action || ':' || outcome, last) = 'server.started:succeeded'),
            ev AS (
                SELECT person, target AS server, ts, seq, action, outcome,
                       action = 'server.started' AS opening, false AS before
                FROM m WHERE action IN ('server.stopped', 'server.exited')
                    OR (action = 'server.started' AND outcome = 'succeeded')
                UNION ALL
                SELECT split_part(target, '/', 1), target, ?, 0, 'server.started', 'succeeded',
                       true, true
                FROM open_at_start),
            numbered AS (
                SELECT *, sum(opening::INTEGER) OVER (PARTITION BY server ORDER BY ts, seq
                    ROWS UNBOUNDED PRECEDING) AS k FROM ev),
            runs AS (
                SELECT person, server, k, min(ts) FILTER (WHERE opening) AS started,
                       bool_or(before) AS before, min(ts) FILTER (WHERE NOT opening) AS ended,
                       arg_min(action || ':' || outcome, ts) FILTER (WHERE NOT opening) AS how
                FROM numbered GROUP BY ALL),
            bounded AS (
                SELECT person, server, coalesce(started, ?) AS started,
                       started IS NULL OR before AS before,
                       least(coalesce(ended, lead(started) OVER (PARTITION BY server ORDER BY k),
                                      ?), ?) AS ended, how
                FROM runs)
            SELECT *, date_diff('second', started, ended) AS seconds FROM bounded
        """, [start, start, cutoff, cutoff])  # fmt: skip

    def _sessions(self) -> list[Session]:
        rows = self._sql("""
            SELECT person, server, here(started), before, here(ended), how FROM sessions
            ORDER BY started, server
        """)
        return [
            Session(person, server, began, ended, before, _ending(how))
            for person, server, began, before, ended, how in rows
        ]

    def _people(self, releases: list[Release], anomalies: list[Anomaly]) -> list[Person]:
        """Each person's figures: reads, refusals, sessions and opens by DuckDB; release
        steps and anomalies from the report's short lists."""
        self._load_sessions()
        rows = self._sql("""
            WITH r AS (SELECT person, count(*) AS reads, count(DISTINCT file) AS files,
                              here(min(ts)) AS first, here(max(ts)) AS last
                       FROM reads GROUP BY person),
            f AS (SELECT coalesce(person, actor) AS person, count(*) AS refusals FROM m
                  WHERE outcome = 'refused' GROUP BY 1),
            s AS (SELECT person, count(*) AS sessions, sum(seconds) AS seconds FROM sessions
                  GROUP BY person),
            o AS (SELECT person, count(*) AS opens FROM m
                  WHERE action = 'server.open' AND outcome = 'succeeded' GROUP BY person),
            everyone AS (SELECT person FROM r UNION SELECT person FROM f
                         UNION SELECT person FROM s UNION SELECT person FROM o)
            SELECT e.person, coalesce(reads, 0), coalesce(files, 0), first, last,
                   coalesce(refusals, 0), coalesce(sessions, 0), coalesce(seconds, 0),
                   coalesce(opens, 0)
            FROM everyone e LEFT JOIN r USING (person) LEFT JOIN f USING (person)
                LEFT JOIN s USING (person) LEFT JOIN o USING (person)
            WHERE e.person IS NOT NULL
        """)
        people = {
            name: Person(name, reads, files, first, last, refusals, sessions=sessions,
                         session_seconds=int(seconds), opens=opens)
            for name, reads, files, first, last, refusals, sessions, seconds, opens in rows
        }  # fmt: skip
        for release in releases:
            if release.person and release.outcome == "succeeded":
                step = release.action.removeprefix("airlock.")
                found = people.setdefault(release.person, Person(release.person)).releases
                found[step] = found.get(step, 0) + 1
        for anomaly in anomalies:
            flagged = people.setdefault(anomaly.person, Person(anomaly.person)).anomalies
            if anomaly.rule not in flagged:
                flagged.append(anomaly.rule)
        return sorted(people.values(), key=lambda p: (not p.anomalies, p.name))

    def _releases(self) -> list[Release]:
        rows = self._sql("""
            SELECT seq, here(ts), person, action, outcome, target, details FROM m
            WHERE starts_with(action, 'airlock.') ORDER BY ts, seq
        """)
        requesters = dict(
            self._sql("""
            SELECT target, any_value(actor) FROM (SELECT target, actor, action, outcome FROM h
                UNION ALL SELECT target, actor, action, outcome FROM m)
            WHERE action = 'airlock.requested' AND outcome = 'succeeded' GROUP BY target
        """)
        )
        return [
            Release(
                seq,
                ts,
                person or requesters.get(request),
                action,
                outcome,
                request,
                _release_summary(details),
            )  # fmt: skip
            for seq, ts, person, action, outcome, request, details in rows
        ]


# -- small helpers ------------------------------------------------------------------------


def _text(moment: datetime) -> str:
    """A UTC instant as the record writes times (they sort as text)."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def _naive(moment: datetime) -> datetime:
    """A UTC instant as DuckDB's TIMESTAMP (naive, UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _offsets(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets from `start` to `end`: [(until, seconds)], the last until `end`.

    Found hour by hour (zones change offsets on the hour or half-hour, at most a few times a
    month), each change then placed to the minute.
    """

    def offset(moment: datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    changes, current, moment = [], offset(start), start
    while moment < end:
        step = min(moment + timedelta(hours=1), end)
        if offset(step) != current:
            minute = moment
            while offset(minute) == current:
                minute += timedelta(minutes=1)
            changes.append((minute, current))
            current = offset(minute)
        moment = step
    return [*changes, (end, current)]


def _within(bursts: dict[str, list[tuple]], person: str, moment: datetime) -> bool:
    return any(first <= moment <= last for first, last, _ in bursts.get(person, ()))


def _flatten(bursts: dict[str, list[tuple]]) -> Iterator[tuple[str, datetime, datetime, int]]:
    for person, found in bursts.items():
        for first, last, count in found:
            yield person, first, last, count


def _span(length: timedelta) -> str:
    minutes = length.total_seconds() / 60
    return f"{minutes:.0f} minute(s)" if minutes >= 1 else f"{length.total_seconds():.0f} s"


def _ending(how: str | None) -> str:
    return {
        "server.stopped:succeeded": "stopped",
        "server.exited:succeeded": "exited",
        "server.exited:failed": "exited (failed)",
    }.get(how or "", "no stop recorded")


def _release_summary(details: str | None) -> str:
    """A release step in a few words: its files, decision, reason."""
    try:
        found = json.loads(details or "{}")
    except ValueError:
        return ""
    if not isinstance(found, dict):
        return ""
    parts = []
    if isinstance(found.get("files"), list):
        parts.append(f"{len(found['files'])} file(s)")
    if found.get("path"):
        parts.append(str(found["path"]))
    for key in ("decision", "status", "reason"):
        if found.get(key):
            parts.append(f"{key}: {found[key]}")
    return "; ".join(parts)


def duration(seconds: int) -> str:
    """A length of time as `2 h 05 min` (or `40 min`, `12 s`)."""
    hours, rest = divmod(int(seconds), 3600)
    if hours:
        return f"{hours} h {rest // 60:02d} min"
    return f"{rest // 60} min" if rest >= 60 else f"{rest} s"


def csv_rows(report: Report) -> Iterator[list[Any]]:
    """The report as CSV rows (after CSV_HEADER), one section after another; times in ISO 8601
    with the report zone's offset. Cells are not yet made safe for spreadsheets."""
    common = [report.project, str(report.month)]

    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment else ""

    for p in report.people:
        releases = ", ".join(f"{step} {n}" for step, n in sorted(p.releases.items()))
        detail = (f"files {p.files}; refusals {p.refusals}; releases: {releases or 'none'}; "
                  f"sessions {p.sessions}; opens {p.opens}")  # fmt: skip
        labels = "; ".join(RULES[rule] for rule in p.anomalies)
        yield [*common, "person", p.name, "", p.reads, when(p.first_read), when(p.last_read),
               p.session_seconds, labels, detail]  # fmt: skip
    for r in report.reads:
        marks = [f"{RULES['night-reads']} ({r.night})" if r.night else "",
                 RULES["new-files"] if r.in_burst else ""]  # fmt: skip
        detail = f"night {r.night}" + ("; first opened this month" if r.new else "")
        yield [*common, "read", r.person, r.file, r.reads, when(r.first), when(r.last), "",
               "; ".join(filter(None, marks)), detail]  # fmt: skip
    for f in report.refusals:
        yield [*common, "refusal", f.person, f.action, 1, when(f.time), when(f.time), "",
               RULES["refusal-burst"] if f.in_burst else "",
               "; ".join(filter(None, (f.target, f.reason)))]  # fmt: skip
    for e in report.releases:
        yield [*common, "release", e.person or "", e.action, 1, when(e.time), when(e.time), "",
               "", "; ".join(filter(None, (e.request, e.outcome, e.summary)))]  # fmt: skip
    for s in report.sessions:
        detail = s.end + ("; running when the month began" if s.began_before else "")
        yield [*common, "session", s.person, s.server, 1, when(s.started), when(s.ended),
               s.seconds, "", detail]  # fmt: skip
    for a in report.anomalies:
        yield [*common, "anomaly", a.person, a.label, a.count, when(a.first), when(a.last), "",
               a.label, a.text]  # fmt: skip
