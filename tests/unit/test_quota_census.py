"""The census: what it records for each project, and which ledger sessions it closes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hds_quota.census import changed_records, dangling_stops, project_records, take_census
from hds_quota.ledger import Ledger, server_started, utcnow
from hds_quota.plans import Plans
from hds_quota.usage import Usage
from hds_quota.volumes import ProjectVolumes

NOW = datetime(2026, 5, 10, 12, tzinfo=UTC)


def test_one_record_per_project_with_a_defined_plan(tmp_path):
    groups = {
        "alpha": {"users": ["ann", "bob"], "properties": {"plan": "public", "dataset": "a"}},
        "beta": {"users": [], "properties": {"plan": "gold", "dataset": "b"}},
        "hds-admins": {"users": ["ops"], "properties": {}},
    }
    volumes = ProjectVolumes(tmp_path / "volumes", tmp_path / "projects")
    records = project_records(groups, Plans(), volumes)
    assert [(r["project"], r["plan"], r["members"], r["storage_used"]) for r in records] == [
        ("alpha", "public", 2, None)
    ]


def test_only_sessions_of_servers_gone_for_a_while_are_closed():
    sessions = [
        ("alpha", "ann", NOW - timedelta(hours=2)),  # running: kept
        ("alpha", "bob", NOW - timedelta(hours=2)),  # gone: closed
        ("beta", "cat", NOW - timedelta(minutes=2)),  # gone but just started: spared
    ]
    stops = dangling_stops(sessions, {("ann", "alpha")}, NOW)
    assert [(s["project"], s["user"], s["reason"]) for s in stops] == [
        ("alpha", "bob", "not-running")
    ]


def test_the_ledger_is_read_before_the_hub_is_asked(tmp_path):
    ledger, plan = Ledger(tmp_path / "usage"), Plans().get("public")
    ledger.append(server_started(plan, "alpha", "ann", 1, 0, "i"), now=NOW - timedelta(hours=1))
    order = []

    def active():
        order.append("hub")
        # A server starting now: its record lands after the census read the ledger. Stamped an
        # hour back so that the grace period alone would not spare it, only the order does.
        ledger.append(
            server_started(plan, "alpha", "bob", 1, 0, "i"), now=utcnow() - timedelta(hours=1)
        )
        return {("ann", "alpha")}

    volumes = ProjectVolumes(tmp_path / "volumes", tmp_path / "projects")
    assert take_census(ledger, Plans(), volumes, {}, active) == 0
    assert order == ["hub"]
    assert {(p, u) for p, u, _ in Usage(ledger).open_sessions()} == {
        ("alpha", "ann"), ("alpha", "bob"),
    }  # fmt: skip


def test_an_unchanged_project_is_written_again_only_when_it_changes(tmp_path):
    ledger, volumes = Ledger(tmp_path / "usage"), ProjectVolumes(tmp_path / "v", tmp_path / "p")
    groups = {
        "alpha": {"users": ["ann"], "properties": {"plan": "public", "dataset": "a"}},
        "beta": {"users": ["bob"], "properties": {"plan": "public", "dataset": "b"}},
    }
    last: dict = {}
    census = lambda: take_census(ledger, Plans(), volumes, groups, set, last)  # noqa: E731
    assert census() == 2
    assert census() == 0  # nothing changed: nothing written
    groups["beta"]["users"].append("cat")
    assert census() == 1
    lines = [line for path in ledger.files() for line in path.read_text().splitlines()]
    assert len(lines) == 3 and '"members": 2' in lines[-1] and '"beta"' in lines[-1]
    assert take_census(ledger, Plans(), volumes, groups, set) == 2  # without memory: all


def test_each_month_starts_with_every_project():
    record = {"kind": "project", "project": "alpha", "plan": "public", "members": 1}
    last = {"alpha": ("2026-05", json.dumps(record, sort_keys=True))}
    assert changed_records([record], last, "2026-05") == []
    assert changed_records([record], last, "2026-06") == [record]
