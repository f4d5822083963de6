"""The access report's figures and anomaly rules, on small records written by the real writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hds_records.actions import CATALOGUE, SERVER
from jupyter_hds.audit.intake import new_event
from jupyter_hds.audit.query import AuditQuery
from jupyter_hds.audit.report import (
    CSV_HEADER,
    OUTWARD,
    AccessReport,
    Month,
    build,
    csv_rows,
    parse_request,
)

JUNE = Month(2025, 6)
AFTER = datetime(2025, 8, 1, tzinfo=UTC)  # "now": the month is over


def entry(action: str, actor: str, outcome: str, time: str, **fields) -> dict:
    """An inbox event at `time` (UTC, ISO 8601), in cohort-a unless told."""
    kind = "service" if actor.startswith("service:") else "user"
    fields.setdefault("project", "cohort-a")
    return new_event(action, actor, kind, outcome, time=time, **fields)


def read(actor: str, file: str, time: str, **fields) -> dict:
    return entry("dataset.read", actor, "allowed", time, target=f"dataset/{file}", **fields)


def at(start: str, minutes: float) -> str:
    """`start` (UTC) plus `minutes`, as the record writes times."""
    moment = datetime.fromisoformat(start) + timedelta(minutes=minutes)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def report_of(record, events: list[dict], project: str = "cohort-a", month: Month = JUNE,
              now: datetime = AFTER, **rules):  # fmt: skip
    """Write `events` (in time order, some segments sealed) and build the report."""
    record.append(sorted(events, key=lambda e: e["time"]))
    record.seal_pending()
    settings = AccessReport(**{"time_zone": "Europe/Paris", **rules})
    return build(AuditQuery(record.directory), project, month, settings, now=now)


def person(report, name: str):
    (found,) = [p for p in report.people if p.name == name]
    return found


# -- figures -----------------------------------------------------------------------------


def test_reads_per_person_and_file_with_first_and_last_time(record):
    report = report_of(record, [
        read("alice", "a.csv", "2025-06-02T08:00:00Z"),
        read("alice", "a.csv", "2025-06-09T12:30:00Z"),
        read("alice", "b.csv", "2025-06-03T09:00:00Z"),
        read("bob", "a.csv", "2025-06-04T10:00:00Z"),
        read("bob", "a.csv", "2025-06-04T10:00:00Z", project="cohort-b"),  # another project
        entry("dataset.read.blocked", "bob", "refused", "2025-06-04T10:01:00Z",
              target="dataset/a.csv", details={"reason": "raw bytes"}),
    ])  # fmt: skip
    rows = [(r.person, r.file, r.reads, r.first.isoformat(), r.last.isoformat())
            for r in report.reads]  # fmt: skip
    assert rows == [
        ("alice", "dataset/a.csv", 2, "2025-06-02T10:00:00+02:00", "2025-06-09T14:30:00+02:00"),
        ("alice", "dataset/b.csv", 1, "2025-06-03T11:00:00+02:00", "2025-06-03T11:00:00+02:00"),
        ("bob", "dataset/a.csv", 1, "2025-06-04T12:00:00+02:00", "2025-06-04T12:00:00+02:00"),
    ]
    alice = person(report, "alice")
    assert (alice.reads, alice.files, alice.refusals) == (3, 2, 0)
    assert alice.first_read.isoformat() == "2025-06-02T10:00:00+02:00"
    assert alice.last_read.isoformat() == "2025-06-09T14:30:00+02:00"
    bob = person(report, "bob")
    assert (bob.reads, bob.files, bob.refusals) == (1, 1, 1)
    (refusal,) = report.refusals
    assert (refusal.action, refusal.target, refusal.reason) == (
        "dataset.read.blocked", "dataset/a.csv", "raw bytes")  # fmt: skip


def test_the_month_is_the_hub_zones_month(record):
    """23:30 UTC on 31 May is 01:30 on 1 June in Paris: June's in Paris, May's in UTC."""
    events = [read("alice", "a.csv", "2025-05-31T23:30:00Z"),
              read("alice", "b.csv", "2025-06-30T22:30:00Z")]  # fmt: skip
    in_paris = report_of(record, events)
    assert [r.file for r in in_paris.reads] == ["dataset/a.csv"]
    in_utc = build(AuditQuery(record.directory), "cohort-a", JUNE,
                   AccessReport(time_zone="UTC"), now=AFTER)  # fmt: skip
    assert [r.file for r in in_utc.reads] == ["dataset/b.csv"]


def test_sessions_their_length_and_how_they_ended(record):
    server = {"target": "alice/cohort-a"}
    hub = "service:jupyterhub"
    report = report_of(record, [
        # Running when June began (Paris): started 31 May 20:00 UTC, stopped 1 June 02:00 UTC.
        entry("server.started", hub, "succeeded", "2025-05-31T20:00:00Z", **server),
        entry("server.stopped", hub, "succeeded", "2025-06-01T02:00:00Z", **server),
        # 1 h 30, ended by itself with an error.
        entry("server.started", hub, "succeeded", "2025-06-10T08:00:00Z", **server),
        entry("server.open", "alice", "succeeded", "2025-06-10T08:01:00Z", **server),
        entry("server.open", "bob", "succeeded", "2025-06-10T08:05:00Z", **server),
        entry("server.exited", hub, "failed", "2025-06-10T09:30:00Z", **server),
        # A failed start is no session.
        entry("server.started", hub, "failed", "2025-06-11T08:00:00Z", **server),
        # Started, never stopped in June: counted to the end of the month.
        entry("server.started", hub, "succeeded", "2025-06-30T20:00:00Z", **server),
    ])  # fmt: skip
    sessions = [(s.person, s.started.isoformat(), s.seconds, s.end, s.began_before)
                for s in report.sessions]  # fmt: skip
    assert sessions == [
        ("alice", "2025-06-01T00:00:00+02:00", 4 * 3600, "stopped", True),
        ("alice", "2025-06-10T10:00:00+02:00", 90 * 60, "exited (failed)", False),
        ("alice", "2025-06-30T22:00:00+02:00", 2 * 3600, "no stop recorded", False),
    ]
    alice = person(report, "alice")
    assert (alice.sessions, alice.session_seconds, alice.opens) == (3, 7.5 * 3600, 1)
    assert person(report, "bob").opens == 1  # opened alice's server: shared with him


def test_a_server_running_all_month_without_an_entry_in_it(record):
    report = report_of(record, [
        entry("server.started", "service:jupyterhub", "succeeded", "2025-05-20T08:00:00Z",
              target="alice/cohort-a"),
    ], now=datetime(2025, 6, 2, 22, 0, tzinfo=UTC))  # fmt: skip
    (session,) = report.sessions
    assert (session.began_before, session.end, session.seconds) == (
        True, "no stop recorded", 2 * 86400)  # fmt: skip


def test_releases_include_refused_steps_of_this_projects_requests_only(record):
    report = report_of(record, [
        entry("airlock.requested", "alice", "succeeded", "2025-06-11T08:00:00Z", target="r1",
              details={"files": [{"path": "work/t.csv"}, {"path": "work/f.png"}]}),
        entry("airlock.approved", "olga", "succeeded", "2025-06-11T09:00:00Z", target="r1",
              details={"decision": "approve"}),
        entry("airlock.released", "service:jupyterhub", "succeeded", "2025-06-11T09:00:01Z",
              target="r1", details={"requester": "alice", "files": []}),
        # Refusals name no project: r1 is cohort-a's, r9 another project's.
        entry("airlock.downloaded", "bob", "refused", "2025-06-12T09:00:00Z", project=None,
              target="r1", details={"reason": "not yours"}),
        entry("airlock.downloaded", "bob", "refused", "2025-06-12T09:00:00Z", project=None,
              target="r9", details={"reason": "not yours"}),
        entry("airlock.requested", "carol", "succeeded", "2025-06-12T10:00:00Z",
              project="cohort-b", target="r9"),
    ])  # fmt: skip
    steps = [(e.person, e.action, e.outcome, e.request) for e in report.releases]
    assert steps == [
        ("alice", "airlock.requested", "succeeded", "r1"),
        ("olga", "airlock.approved", "succeeded", "r1"),
        ("alice", "airlock.released", "succeeded", "r1"),
        ("bob", "airlock.downloaded", "refused", "r1"),
    ]
    assert report.releases[0].summary == "2 file(s)"
    assert person(report, "alice").releases == {"requested": 1, "released": 1}
    assert person(report, "olga").releases == {"approved": 1}
    assert [(r.person, r.action) for r in report.refusals] == [("bob", "airlock.downloaded")]


def test_csv_rows_have_the_header_shape_and_every_section(record):
    report = report_of(record, [
        read("alice", "a.csv", "2025-06-02T21:00:00Z"),
        entry("download.blocked", "alice", "refused", "2025-06-02T21:01:00Z", target="x"),
        entry("server.started", "service:jupyterhub", "succeeded", "2025-06-02T20:00:00Z",
              target="alice/cohort-a"),
    ])  # fmt: skip
    rows = list(csv_rows(report))
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    assert [row[2] for row in rows] == ["person", "read", "refusal", "session", "anomaly"]
    read_row = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert read_row["first"] == "2025-06-02T23:00:00+02:00"
    assert read_row["anomaly"] == "reads at night (1)"


# -- the anomaly rules -----------------------------------------------------------------


def refusals(times: list[float], action: str = "download.blocked") -> list[dict]:
    return [entry(action, "bob", "refused", at("2025-06-05T12:00:00+00:00", minutes),
                  target="dataset/a.csv") for minutes in times]  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "events", "expected"),
    [
        ("four-in-ten-minutes", refusals([0, 1, 2, 3]), []),
        ("five-in-ten-minutes", refusals([0, 1, 2, 3, 9]), [5]),
        ("five-in-exactly-ten", refusals([0, 2, 4, 6, 10]), [5]),
        ("five-over-eleven", refusals([0, 3, 6, 9, 11]), []),
        ("overlapping-spans-are-one", refusals([0, 1, 2, 3, 4, 8, 9, 10, 11, 30]), [9]),
        ("after-a-burst-too-few", refusals([0, 1, 2, 3, 4, 12, 13, 14]), [5]),
        ("two-bursts", refusals([0, 1, 2, 3, 4, 60, 61, 62, 63, 64]), [5, 5]),
        ("any-data-out", refusals([0, 1], "export.blocked") + refusals([2, 3, 4]), [5]),
        ("start-refusals-are-not-data", refusals([0, 1, 2, 3, 4], "server.refused"), []),
    ],
)
def test_a_burst_of_refusals(record, case_id, events, expected):
    report = report_of(record, events)
    bursts = [a for a in report.anomalies if a.rule == "refusal-burst"]
    assert [a.count for a in bursts] == expected
    assert sum(r.in_burst for r in report.refusals) == sum(expected)
    assert person(report, "bob").anomalies == (["refusal-burst"] if expected else [])


def test_burst_size_and_span_are_settings(record):
    report = report_of(record, refusals([0, 10, 20]), refusal_burst=3,
                       refusal_burst_minutes=20)  # fmt: skip
    (burst,) = report.anomalies
    assert (burst.count, burst.first.isoformat(), burst.last.isoformat()) == (
        3, "2025-06-05T14:00:00+02:00", "2025-06-05T14:20:00+02:00")  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "hours", "utc_times", "nights"),
    [
        # Paris is UTC+2 in June: 07:00 there is 05:00 UTC, 20:00 there is 18:00 UTC.
        ("working-day", "07:00-20:00", ["05:00", "12:00", "17:59"], []),
        ("just-before-seven", "07:00-20:00", ["04:59"], [(1, "2025-06-09")]),
        ("from-eight-pm", "07:00-20:00", ["18:00"], [(1, "2025-06-10")]),
        ("one-night-over-midnight", "07:00-20:00", ["21:00", "23:30"], [(2, "2025-06-10")]),
        ("night-team", "22:00-06:00", ["21:00", "05:00"], [(1, "2025-06-10")]),
    ],
)
def test_reads_at_night(record, case_id, hours, utc_times, nights):
    """Reads on 10 June (UTC); one anomaly per person and night, named by its evening."""
    events = [read("alice", "a.csv", f"2025-06-10T{hhmm}:00Z") for hhmm in utc_times]
    report = report_of(record, events, working_hours=hours)
    found = [(a.count, a.text.split("night from ")[1][:10]) for a in report.anomalies]
    assert found == nights
    assert report.reads[0].night == sum(count for count, _ in nights)


def new_files(count: int, start: str = "2025-06-03T10:00:00+00:00", every: float = 2) -> list:
    return [read("alice", f"f{n:02d}.csv", at(start, n * every)) for n in range(count)]


@pytest.mark.parametrize(
    ("case_id", "events", "expected"),
    [
        ("nineteen-new-files", new_files(19), []),
        ("twenty-new-files-in-38-minutes", new_files(20), [20]),
        ("twenty-over-two-hours", new_files(20, every=6.5), []),
        ("re-reading-is-not-new", new_files(19) + new_files(19, "2025-06-03T10:01:00+00:00"), []),
        ("one-read-in-may", new_files(20) + [read("alice", "f00.csv", "2025-05-02T10:00:00Z")], []),
        (
            "read-in-may-in-another-project",
            new_files(20) + [read("alice", "f00.csv", "2025-05-02T10:00:00Z", project="x")],
            [20],
        ),
    ],
)
def test_many_files_never_opened_before(record, case_id, events, expected):
    report = report_of(record, events)
    bursts = [a for a in report.anomalies if a.rule == "new-files"]
    assert [a.count for a in bursts] == expected
    assert sum(r.in_burst for r in report.reads) == sum(expected)


def test_no_anomaly_in_an_ordinary_month(record):
    events = [read("alice", f"f{n % 3}.csv", f"2025-06-{2 + n % 20:02d}T09:00:00Z")
              for n in range(40)] + refusals([0, 30, 60, 90])  # fmt: skip
    report = report_of(record, events)
    assert report.anomalies == [] and all(not p.anomalies for p in report.people)


def test_every_refusal_a_users_server_reports_counts_towards_a_burst():
    """A new data-guard refusal in the catalogue must be added to OUTWARD, or to an exception."""
    from_servers = {a.name for a in CATALOGUE if a.reporter == SERVER and "refused" in a.outcomes}
    assert from_servers <= set(OUTWARD)


# -- settings and requests --------------------------------------------------------------


def test_settings_from_config():
    config = Config()
    config.AccessReport.time_zone = "America/Cayenne"
    config.AccessReport.working_hours = "08:30-18:00"
    settings = AccessReport(config=config)
    assert settings.hours() == (510, 1080)
    assert "08:30-18:00, America/Cayenne" in settings.explain()["night-reads"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("time_zone", "Europe/Pariss", "write an IANA name such as Europe/Paris"),
        ("working_hours", "7-20", "write HH:MM-HH:MM"),
        ("working_hours", "08:00-08:00", "start and end different"),
        ("refusal_burst", 1, "should not be less than 2"),
    ],
)
def test_bad_settings_say_what_to_write(name, value, message):
    with pytest.raises(TraitError, match=message):
        AccessReport(**{name: value})


@pytest.mark.parametrize(
    ("project", "month", "message"),
    [
        ("", "2025-06", "choose a project"),
        ("a b", "2025-06", "without spaces or quotes"),
        ("cohort-a", "2025-13", "write a month as YYYY-MM"),
        ("cohort-a", "06/2025", "write a month as YYYY-MM"),
    ],
)
def test_bad_requests_say_what_to_write(project, month, message):
    with pytest.raises(ValueError, match=message):
        parse_request(project, month)


def test_a_month_and_its_bounds():
    assert parse_request(" cohort-a ", "2025-12") == ("cohort-a", Month(2025, 12))
    start, end = Month(2025, 12).bounds(AccessReport(time_zone="Europe/Paris").zone)
    assert (start.isoformat(), end.isoformat()) == (
        "2025-11-30T23:00:00+00:00", "2025-12-31T23:00:00+00:00")  # fmt: skip
    assert Month(2025, 12).label == "December 2025"


def test_a_month_with_a_change_of_clocks(record):
    """In October the clocks go back: 18:30 UTC is 20:30 (night) before, 19:30 after."""
    events = [read("alice", "a.csv", "2025-10-25T18:30:00Z"),
              read("alice", "a.csv", "2025-10-27T18:30:00Z")]  # fmt: skip
    report = report_of(record, events, month=Month(2025, 10))
    (reads,) = report.reads
    assert reads.first.isoformat() == "2025-10-25T20:30:00+02:00"
    assert reads.last.isoformat() == "2025-10-27T19:30:00+01:00"
    assert reads.night == 1
