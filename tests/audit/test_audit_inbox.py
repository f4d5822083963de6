"""The inbox: appends survive being claimed mid-write; nothing unreadable is dropped silently."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from jupyter_hds.audit.drain import Drainer
from jupyter_hds.audit.hub import HubAudit, HubEvents
from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.verify import Verifier
from jupyter_hds.events import emit
from support.audit_entries import events


def test_put_claim_read_done(tmp_path):
    inbox = Inbox(tmp_path)
    batch = events(3)
    inbox.put(batch)
    (claimed,) = inbox.claim()
    assert inbox.read(claimed).events == batch
    inbox.done(claimed)
    assert inbox.pending() == 0


def test_folders_are_made_once_and_again_if_removed(tmp_path, monkeypatch):
    inbox = Inbox(tmp_path / "audit")
    inbox.put(events(1))
    make_folder = Path.mkdir

    def no_mkdir(self, *args, **kwargs):
        raise AssertionError(f"mkdir {self} again")

    monkeypatch.setattr(Path, "mkdir", no_mkdir)
    inbox.put(events(2))  # the hub's every event: no mkdir
    monkeypatch.setattr(Path, "mkdir", make_folder)
    shutil.rmtree(tmp_path / "audit")
    inbox.put(events(1))
    assert oct((tmp_path / "audit" / "inbox").stat().st_mode & 0o777) == "0o700"
    assert len(inbox.read(inbox.claim()[0]).events) == 1


def test_puts_racing_claims_lose_nothing(tmp_path):
    inbox = Inbox(tmp_path)
    sent = events(400)
    received = []

    def writer():
        for event in sent:
            inbox.put([event])

    thread = threading.Thread(target=writer)
    thread.start()
    while thread.is_alive() or inbox.pending():
        for path in inbox.claim():
            received += inbox.read(path).events
            inbox.done(path)
    thread.join()
    assert [e["id"] for e in received] == [e["id"] for e in sent]


def test_unreadable_lines_are_reported(tmp_path):
    inbox = Inbox(tmp_path)
    inbox.put(events(1))
    (tmp_path / "inbox" / "hub.jsonl").open("ab").write(b'garbage\n[1, 2]\n{"torn":')
    claimed = inbox.read(inbox.claim()[0])
    assert len(claimed.events) == 1
    assert claimed.unreadable == ["garbage", "[1, 2]", '{"torn":']


def test_a_line_torn_by_a_crash_stays_alone_and_is_reported(tmp_path):
    inbox = Inbox(tmp_path)
    inbox.put(events(1))
    (tmp_path / "inbox" / "hub.jsonl").open("ab").write(b'{"id": "cut off by a cra')
    later = events(1)
    inbox.put(later)  # starts on a new line: the torn bytes do not spoil it
    claimed = inbox.read(inbox.claim()[0])
    assert [e["id"] for e in claimed.events][1:] == [later[0]["id"]]
    assert claimed.unreadable == ['{"id": "cut off by a cra']


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink"])
def test_an_inbox_file_that_is_not_a_regular_file_is_an_error(tmp_path, kind):
    path = tmp_path / "inbox" / "hub.jsonl"
    path.parent.mkdir()
    {"folder": path.mkdir, "fifo": lambda: os.mkfifo(path),
     "symlink": lambda: path.symlink_to(tmp_path / "elsewhere")}[kind]()  # fmt: skip
    with pytest.raises(OSError, match="not a regular file"):
        Inbox(tmp_path).put(events(1))


@pytest.mark.parametrize("source", ["../x", "Hub", "", "a b"])
def test_a_bad_source_name_is_refused(tmp_path, source):
    with pytest.raises(ValueError, match="inbox source"):
        Inbox(tmp_path).put(events(1), source=source)


def test_drain_chains_once_and_keeps_what_it_cannot_read(record):
    inbox = Inbox(record.directory)
    batch = events(3)
    inbox.put(batch)
    inbox.put(batch[1:])  # a replay
    inbox.put([{"id": "x", "action": 5}])
    written = Drainer(inbox, record).drain()
    assert written == 4
    assert inbox.pending() == 0
    report = Verifier(record.directory).verify()
    assert report.intact and report.entries == 4
    kept = record.append([])  # nothing new; read the last entry back from the record
    assert kept == []
    last = (record.directory / "segments" / "000000000001.jsonl").read_text().splitlines()[-1]
    assert '"action": "audit.inbox.unreadable"' in last and "'action': 5" in last


def test_drain_takes_up_files_a_crashed_drain_left_claimed(record):
    inbox = Inbox(record.directory)
    inbox.put(events(2))
    inbox.claim()  # claimed, then the service died
    inbox.put(events(1))
    assert Drainer(inbox, record).drain() == 3


def test_the_hub_keeps_events_while_its_disk_refuses_them(tmp_path):
    blocked = tmp_path / "audit"
    blocked.write_text("not a folder")  # any write under it fails
    sink = HubAudit(blocked)
    first, second = events(1), events(1)
    sink.record(first)
    blocked.unlink()
    sink.record(second)
    (claimed,) = Inbox(blocked).claim()
    assert Inbox(blocked).read(claimed).events == first + second


def test_hub_events_reach_the_inbox_through_emit(tmp_path, monkeypatch):
    monkeypatch.setattr(HubAudit, "_instance", HubAudit(tmp_path))
    hooks = HubEvents()  # what the hub config creates
    try:
        event = emit("server.refused", actor="alice", outcome="refused", project="cohort-a")
    finally:
        hooks.close()
    emit("server.refused", actor="bob", outcome="refused")  # not subscribed any more
    (claimed,) = Inbox(tmp_path).claim()
    (queued,) = Inbox(tmp_path).read(claimed).events
    assert (queued["id"], queued["action"], queued["reported_by"]) == (
        event.id,
        "server.refused",
        "hub",
    )
