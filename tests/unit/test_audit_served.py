"""What the hub tells a starting server each member was sent today, summed from the record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from jupyter_hds.audit import served
from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.intake import new_event
from jupyter_hds.audit.served import (
    UNREADABLE_MESSAGE,
    budget_environment,
    environment_later,
    served_today,
)
from jupyter_hds.audit.writer import ChainWriter

TODAY = datetime.now(UTC).date()


def sent(action, actor, served, project="cohort", outcome="allowed", reporter=None, **fields):
    reported_by = reporter or f"server:{actor}/{project}"
    details = {} if served is None else {"served": served}
    return new_event(action, actor, "user", outcome, reported_by=reported_by, project=project,
                     details=details, **fields)  # fmt: skip


def record(tmp_path, entries, segment_entries=1000):
    writer = ChainWriter(tmp_path, segment_entries=segment_entries, fsync=False).open()
    writer.append(entries)
    writer.seal_pending()
    return tmp_path


def test_reads_and_shares_of_today_are_summed_per_person(tmp_path):
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    directory = record(tmp_path, [
        sent("file.read", "alice", 100),
        sent("dataset.read", "alice", 20),
        sent("browser.budget.reserved", "alice", 4096),
        sent("browser.budget.reserved", "bob", 7),
        sent("browser.budget.reserved", "alice", 9999, time=yesterday),
        sent("browser.budget.reserved", "alice", 9999, project="other"),
        sent("dataset.read", "alice", None),  # a co-editing room's read carries no figure
    ])  # fmt: skip
    assert served_today(directory, "cohort") == {
        "day": TODAY.isoformat(), "served": {"alice": 4216, "bob": 7}, "exceeded": [],
    }  # fmt: skip


def test_what_code_in_a_container_could_post_only_adds(tmp_path):
    directory = record(tmp_path, [
        sent("file.read", "alice", 500),
        sent("browser.budget.reserved", "alice", -10**12),  # forged with the server's token
        sent("browser.budget.reserved", "alice", "lots"),
        sent("file.read", "alice", 10**9, reporter="hub"),  # only servers' reports count
    ])  # fmt: skip
    assert served_today(directory, "cohort")["served"] == {"alice": 500}


def test_a_refusal_already_recorded_today_is_named(tmp_path):
    directory = record(tmp_path, [
        sent("browser.budget.exceeded", "bob", None, outcome="refused"),
    ])  # fmt: skip
    assert served_today(directory, "cohort")["exceeded"] == ["bob"]


def test_events_still_in_the_inbox_count_once(tmp_path):
    chained = sent("file.read", "alice", 100)
    directory = record(tmp_path, [chained])
    Inbox(directory).put([chained, sent("browser.budget.reserved", "alice", 50)], "hub")
    assert served_today(directory, "cohort")["served"] == {"alice": 150}


def test_sealed_and_open_segments_are_read_alike(tmp_path):
    entries = [sent("browser.budget.reserved", "alice", 1) for _ in range(25)]
    directory = record(tmp_path, entries, segment_entries=10)
    assert served_today(directory, "cohort")["served"] == {"alice": 25}


def test_an_empty_record_says_nothing_was_sent(tmp_path):
    assert served_today(tmp_path, "cohort") == {
        "day": TODAY.isoformat(),
        "served": {},
        "exceeded": [],
    }


def test_the_spawners_environment_is_what_a_server_reads(tmp_path):
    directory = record(tmp_path, [sent("file.read", "alice", 3)])
    environment = budget_environment(directory, "cohort", 512 * 1024**2)
    assert environment["HDS_BROWSER_BYTES_DAY"] == str(512 * 1024**2)
    # JupyterHub calls a callable value with the spawner when it builds the environment.
    assert json.loads(environment["HDS_BROWSER_SERVED"](None))["served"] == {"alice": 3}


def test_a_record_that_cannot_be_read_stops_the_start_and_says_why(tmp_path, caplog):
    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "000000000001.parquet").write_bytes(b"not parquet")
    with pytest.raises(RuntimeError) as refused:
        environment_later(tmp_path, "cohort")(None)
    assert str(refused.value) == UNREADABLE_MESSAGE
    assert "cannot sum what cohort's members were sent today" in caplog.text


def test_an_inbox_file_claimed_while_it_is_listed_is_read_again_not_skipped(tmp_path, monkeypatch):
    """The audit service renames (claims) an inbox file at any moment: the sum lists again and
    finds its events under the new name, where skipping it would count them as 0 (a server
    started during a drain failed to start, and a skipped file would give budget back)."""
    directory = record(tmp_path, [sent("file.read", "alice", 100)])
    Inbox(directory).put([sent("browser.budget.reserved", "alice", 50)], "hub")
    original, claimed = served._inbox_file, []

    def claimed_meanwhile(path):
        if path.name == "hub.jsonl" and not claimed:
            claimed.append(path.rename(path.with_name("hub.00000000000000000001.claimed")))
        return original(path)

    monkeypatch.setattr(served, "_inbox_file", claimed_meanwhile)
    assert served_today(directory, "cohort")["served"] == {"alice": 150}
    assert claimed  # the file did move under the listing
