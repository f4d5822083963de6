"""Filtering, paging and exporting the record with DuckDB, over sealed and open segments alike."""

from __future__ import annotations

from datetime import date

import pytest

from jupyter_hds.audit.query import AuditQuery, Filters, csv_cell
from support.audit_entries import events


@pytest.fixture
def mixed(record):
    """27 entries across two sealed segments and an open one, by three people, over three days,
    in two projects (carol's in cohort-b)."""
    for day, actor, action, outcome, project in [
        ("2025-03-01", "alice", "login", "succeeded", "cohort-a"),
        ("2025-03-02", "bob", "download.blocked", "refused", "cohort-a"),
        ("2025-03-03", "carol", "dataset.read", "allowed", "cohort-b"),
    ]:
        batch = events(
            9, action=action, actor=actor, outcome=outcome, project=project,
            time=f"{day}T12:00:00.000000Z",
        )  # fmt: skip
        record.append(batch)
    record.seal_pending()
    return AuditQuery(record.directory)


def filters(**values):
    return Filters.parse(lambda name: values.get(name))


@pytest.mark.parametrize(
    ("case_id", "values", "count"),
    [
        ("all", {}, 27),
        ("person", {"person": "bob"}, 9),
        ("action-prefix", {"action": "download"}, 9),
        ("action-exact", {"action": "login"}, 9),
        ("action-no-partial-word", {"action": "log"}, 0),
        ("outcome", {"outcome": "refused"}, 9),
        ("project", {"project": "cohort-a"}, 18),
        ("other-project", {"project": "cohort-b"}, 9),
        ("one-day", {"since": "2025-03-02", "until": "2025-03-02"}, 9),
        ("from-day", {"since": "2025-03-02"}, 18),
        ("combined", {"person": "carol", "until": "2025-03-02"}, 0),
    ],
)
def test_filters(mixed, case_id, values, count):
    assert mixed.count(filters(**values)) == count


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"since": "03/02/2025"}, "write a day as YYYY-MM-DD"),
        ({"outcome": "maybe"}, "must be one of"),
        ({"person": "a'; DROP TABLE x"}, "without spaces or quotes"),
        ({"since": "2025-03-03", "until": "2025-03-01"}, "swap"),
    ],
)
def test_bad_filters_say_what_to_write(values, message):
    with pytest.raises(ValueError, match=message):
        filters(**values)


def test_pages_go_older_and_back_newer(mixed):
    first = mixed.page(Filters(), size=10)
    assert [r["seq"] for r in first.rows] == list(range(27, 17, -1))
    assert first.newer is None and first.older == 18
    second = mixed.page(Filters(), before=first.older, size=10)
    assert [r["seq"] for r in second.rows] == list(range(17, 7, -1))
    last = mixed.page(Filters(), before=second.older, size=10)
    assert [r["seq"] for r in last.rows] == list(range(7, 0, -1)) and last.older is None
    back = mixed.page(Filters(), after=last.newer, size=10)
    assert back.rows == second.rows


def test_pages_respect_filters(mixed):
    page = mixed.page(filters(person="bob"), size=5)
    assert {r["actor"] for r in page.rows} == {"bob"} and len(page.rows) == 5


def test_export_is_oldest_first_in_record_order(mixed):
    rows = [row for batch in mixed.export(filters(outcome="refused"), batch=4) for row in batch]
    assert [r[0] for r in rows] == list(range(10, 19))


def test_choices_list_names_seen(mixed):
    assert mixed.choices()["actor"] == ["alice", "bob", "carol"]


def test_an_empty_record_answers_with_nothing(tmp_path):
    query = AuditQuery(tmp_path)
    assert query.count(Filters()) == 0
    assert query.page(Filters()).rows == []


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@sum", "'@sum"),
        ("alice", "alice"),
        (42, 42),
        (None, None),
    ],  # fmt: skip
)
def test_csv_cells_never_run_as_formulas(value, safe):
    assert csv_cell(value) == safe


def test_filters_round_trip_as_arguments():
    values = {"person": "bob", "since": "2025-03-01"}
    assert filters(**values).as_args() == values
    assert filters(**values).since == date(2025, 3, 1)


def test_pages_widen_past_recent_segments_to_find_old_matches(mixed):
    page = mixed.page(filters(person="alice"), size=20)  # only in the oldest segment
    assert [r["seq"] for r in page.rows] == list(range(9, 0, -1))
    newer = mixed.page(filters(person="carol"), after=1, size=3)
    assert [r["seq"] for r in newer.rows] == [21, 20, 19] and newer.older is None
