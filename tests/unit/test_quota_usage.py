"""The monthly summary against a ledger written by hand, and the ledger's own rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hds_quota.ledger import Ledger, project_seen, server_started, server_stopped
from hds_quota.plans import Plans
from hds_quota.usage import Month, ProjectMonth, Session, Usage, csv_cell, to_csv

G = 1024**3
PUBLIC = {"plan": "public", "price_eur_month": 150, "cpu": 2, "cpu_hours_month": 200,
          "memory": 4 * G, "storage": 20 * G}  # fmt: skip
PRIVATE = {"plan": "private", "price_eur_month": 300, "cpu": 4, "cpu_hours_month": 1000,
           "memory": 16 * G, "storage": 100 * G}  # fmt: skip


def cpu_hours(usage, project, month, now=None) -> float:
    """`project`'s compute in `month` from the monthly summary, which reads every file."""
    rows = [r.cpu_hours for r in usage.summary(month, now=now) if r.project == project]
    return rows[0] if rows else 0.0


def start(time, project, user, plan, **extra):
    return {"time": time, "kind": "start", "project": project, "server": project, "user": user,
            **plan, **extra}  # fmt: skip


def stop(time, project, user, reason="stopped", **extra):
    return {"time": time, "kind": "stop", "project": project, "server": project, "user": user,
            "reason": reason, **extra}  # fmt: skip


def seen(time, project, plan, members, storage_used):
    return {"time": time, "kind": "project", "project": project, **plan, "members": members,
            "storage_used": storage_used}  # fmt: skip


# A ledger as the hub and the usage service would have written it, by hand.
APRIL = [
    start("2026-04-10T08:00:00Z", "delta", "dan", PUBLIC),  # April only: not in May
    stop("2026-04-10T10:00:00Z", "delta", "dan"),
    start("2026-04-30T22:00:00Z", "alpha", "ann", PUBLIC, members=3, storage_used=1 * G),
]
MAY = [
    # alpha: ann's session from April runs into May until 02:00 (2 h in May);
    stop("2026-05-01T02:00:00Z", "alpha", "ann", storage_used=2 * G),
    # bob 3.5 h; the service closed it too (a second stop changes nothing);
    start("2026-05-10T09:00:00Z", "alpha", "bob", PUBLIC, members=4, storage_used=2 * G),
    stop("2026-05-10T12:30:00Z", "alpha", "bob", storage_used=5 * G),
    stop("2026-05-10T13:00:00Z", "alpha", "bob", reason="not-running"),
    seen("2026-05-15T00:00:00Z", "alpha", PUBLIC, 4, 3 * G),
    # ann again from 23:00 on the last day, still running when June begins (1 h in May).
    start("2026-05-31T23:00:00Z", "alpha", "ann", PUBLIC, members=4, storage_used=3 * G),
    # beta: private, then moved to public on the 15th (the month is billed at the higher price);
    seen("2026-05-01T00:00:00Z", "beta", PRIVATE, 2, 10 * G),
    start("2026-05-03T10:00:00Z", "beta", "cat", PRIVATE, members=2, storage_used=10 * G),
    stop("2026-05-03T11:00:00Z", "beta", "cat", storage_used=30 * G),
    seen("2026-05-15T00:00:00Z", "beta", PUBLIC, 2, 12 * G),
    start("2026-05-20T10:00:00Z", "beta", "cat", PUBLIC, members=2, storage_used=12 * G),
    stop("2026-05-20T10:30:00Z", "beta", "cat", reason="quota-compute", storage_used=12 * G),
    # gamma: nobody worked, it is still rented;
    seen("2026-05-01T00:00:00Z", "gamma", PUBLIC, 1, 0),
    seen("2026-05-02T00:00:00Z", "gamma", PUBLIC, 1, 0),
    # epsilon: the hub died before recording eve's stop; her next start ends that session.
    start("2026-05-05T10:00:00Z", "epsilon", "eve", PUBLIC, members=1),
    start("2026-05-06T10:00:00Z", "epsilon", "eve", PUBLIC, members=1),
    stop("2026-05-06T11:00:00Z", "epsilon", "eve"),
    # A stop and a start at the same instant: the stop ends the earlier session.
    start("2026-05-07T10:00:00Z", "epsilon", "eve", PUBLIC, members=1),
    start("2026-05-07T12:00:00Z", "epsilon", "eve", PUBLIC, members=1),
    stop("2026-05-07T12:00:00Z", "epsilon", "eve"),
    stop("2026-05-07T12:30:00Z", "epsilon", "eve"),
]
JUNE_2 = datetime(2026, 6, 2, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path):
    for month, records in (("2026-04", APRIL), ("2026-05", MAY)):
        lines = "".join(json.dumps(r) + "\n" for r in records)
        (tmp_path / f"ledger-{month}.jsonl").write_text(lines + '{"time": "2026-05-3')  # torn
    return Ledger(tmp_path)


def test_summary_matches_the_ledger_by_hand(ledger):
    rows = {row.project: row for row in Usage(ledger).summary(Month(2026, 5), now=JUNE_2)}
    assert rows == {
        # 2 h + 3.5 h + 1 h on 2 CPUs; peak storage 5 GiB (bob's stop); 4 members at most.
        "alpha": ProjectMonth("2026-05", "alpha", "public", "public", 150.0, 4, 2, 3,
                              6.5, 13.0, 200.0, 5 * G, 20 * G),
        # 1 h on 4 CPUs + 0.5 h on 2 CPUs; private seen, so billed private.
        "beta": ProjectMonth("2026-05", "beta", "private", "private, public", 300.0, 2, 1, 2,
                             1.5, 5.0, 1000.0, 30 * G, 100 * G),
        "gamma": ProjectMonth("2026-05", "gamma", "public", "public", 150.0, 1, 0, 0,
                              0.0, 0.0, 200.0, 0, 20 * G),
        # 24 h (ended by the next start) + 1 h + 2 h + 0.5 h on 2 CPUs.
        "epsilon": ProjectMonth("2026-05", "epsilon", "public", "public", 150.0, 1, 1, 4,
                                27.5, 55.0, 200.0, 0, 20 * G),
    }  # fmt: skip


def test_april_and_june_count_their_own_part(ledger):
    april = {r.project: r for r in Usage(ledger).summary(Month(2026, 4), now=JUNE_2)}
    assert set(april) == {"alpha", "delta"}
    assert (april["alpha"].server_hours, april["delta"].cpu_hours) == (2.0, 4.0)
    june = {r.project: r for r in Usage(ledger).summary(Month(2026, 6), now=JUNE_2)}
    assert june["alpha"].server_hours == 24.0  # ann is still running, counted until now
    assert june["alpha"].amount_due_eur == 150.0


def test_compute_used_counts_running_servers_until_now(ledger):
    usage = Usage(ledger)
    assert cpu_hours(usage, "alpha", Month(2026, 5), now=JUNE_2) == 13.0
    may_31_midnight_30 = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    assert cpu_hours(usage, "alpha", Month(2026, 5), now=may_31_midnight_30) == 12.0
    assert cpu_hours(usage, "nobody", Month(2026, 5), now=JUNE_2) == 0.0


def test_the_hubs_watch_reads_every_project_in_one_scan_of_recent_months(ledger):
    usage = Usage(ledger)
    by_project = usage.cpu_hours_by_project(Month(2026, 5), now=JUNE_2)
    assert by_project == {"alpha": 13.0, "beta": 5.0, "epsilon": 55.0}
    # Reading May alone misses ann's session begun in April (2 h on 2 CPUs).
    assert usage.cpu_hours_by_project(Month(2026, 5), now=JUNE_2, window=1)["alpha"] == 9.0


def test_sessions_of_one_project(ledger):
    sessions = Usage(ledger).sessions(Month(2026, 5), "beta", now=JUNE_2)
    assert [(s.user, s.plan, s.cpu, s.hours, s.cpu_hours) for s in sessions] == [
        ("cat", "private", 4.0, 1.0, 4.0),
        ("cat", "public", 2.0, 0.5, 1.0),
    ]
    assert sessions[0].started == datetime(2026, 5, 3, 10, tzinfo=UTC)


def test_open_sessions_are_those_whose_last_word_is_a_start(ledger):
    usage = Usage(ledger)
    assert [(p, u) for p, u, _ in usage.open_sessions()] == [("alpha", "ann")]
    assert usage.is_open("alpha", "ann") and not usage.is_open("alpha", "bob")


def test_csv_has_a_header_and_defuses_formulas(ledger):
    rows = Usage(ledger).summary(Month(2026, 5), now=JUNE_2)
    text = to_csv(rows, ProjectMonth)
    assert text.splitlines()[0].split(",")[:5] == [
        "month", "project", "plan", "plans_seen", "amount_due_eur",
    ]  # fmt: skip
    assert "2026-05,alpha,public,public,150.0,4,2,3,6.5,13.0,200.0" in text
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("ann") == "ann"
    sessions = to_csv(Usage(ledger).sessions(Month(2026, 5), now=JUNE_2), Session)
    assert sessions.splitlines()[0].startswith("project,user,plan,cpu")


def test_an_empty_ledger_has_no_usage(tmp_path):
    usage = Usage(Ledger(tmp_path / "none"))
    assert usage.summary(Month(2026, 5)) == [] and cpu_hours(usage, "a", Month(2026, 5)) == 0.0


def test_records_written_by_the_helpers_read_back(tmp_path):
    ledger, plan = Ledger(tmp_path), Plans().get("public")
    t0 = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)
    ledger.append(server_started(plan, "alpha", "ann", 2, 4096, "img"), now=t0)
    ledger.append(server_stopped("alpha", "ann", "stopped", 8192), now=t0 + timedelta(minutes=30))
    ledger.append(project_seen(plan, "alpha", 2, 8192), now=datetime(2026, 6, 1, tzinfo=UTC))
    assert [p.name for p in ledger.files()] == ["ledger-2026-05.jsonl", "ledger-2026-06.jsonl"]
    assert [p.name for p in ledger.files(until_month="2026-05")] == ["ledger-2026-05.jsonl"]
    (row,) = Usage(ledger).summary(Month(2026, 5), now=datetime(2026, 6, 2, tzinfo=UTC))
    assert (row.cpu_hours, row.peak_storage_bytes, row.members) == (1.0, 8192, 2)
    assert (tmp_path / "ledger-2026-05.jsonl").stat().st_mode & 0o777 == 0o600


def test_a_torn_line_stays_alone_and_later_records_count(tmp_path):
    ledger, plan = Ledger(tmp_path), Plans().get("public")
    (tmp_path / "ledger-2026-05.jsonl").write_text('{"kind": "sta')
    ledger.append(server_started(plan, "a", "u", 1, 0, "i"), now=datetime(2026, 5, 1, tzinfo=UTC))
    ledger.append(server_stopped("a", "u", "stopped"), now=datetime(2026, 5, 1, 1, tzinfo=UTC))
    assert cpu_hours(Usage(ledger), "a", Month(2026, 5)) == 2.0


def test_the_line_format_is_unchanged(tmp_path):
    """Ledgers written before the shared writer must read as before, and new lines look alike."""
    Ledger(tmp_path).append(server_stopped("a", "u", "stopped", 10),
                            now=datetime(2026, 5, 1, 9, 30, tzinfo=UTC))  # fmt: skip
    assert (tmp_path / "ledger-2026-05.jsonl").read_text() == (
        '{"kind": "stop", "project": "a", "reason": "stopped", "server": "a", '
        '"storage_used": 10, "time": "2026-05-01T09:30:00.000000Z", "user": "u"}\n'
    )


@pytest.mark.parametrize(
    "record, message",
    [
        ({"kind": "launch"}, "kind is one of start, stop, project"),
        ({"kind": "stop", "colour": "blue"}, "unknown ledger fields colour"),
    ],
)
def test_bad_records_are_refused(tmp_path, record, message):
    with pytest.raises(ValueError, match=message):
        Ledger(tmp_path).append(record)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text", ["2026-13", "2026-5", "May 2026", "", "2026-05-01"])
def test_bad_months_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="write the month as YYYY-MM"):
        Month.parse(text)


def test_month_boundaries():
    assert str(Month(2026, 12).following) == "2027-01"
    assert Month.parse("2026-02").end == datetime(2026, 3, 1, tzinfo=UTC)
