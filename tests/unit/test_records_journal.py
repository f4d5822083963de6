"""The one append-only writer: whole lines, durable, shared by processes, a torn line left alone."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from hds_records import journal


def line(n: int) -> bytes:
    return journal.encode({"n": n, "text": "é"})


def test_lines_are_appended_and_read_back(tmp_path):
    path = tmp_path / "a" / "b" / "events.jsonl"
    journal.append(path, [line(1), line(2)])
    journal.append(path, [line(3)])
    records, bad = journal.read(path).records()
    assert [r["n"] for r in records] == [1, 2, 3] and bad == []
    assert path.read_bytes().startswith(b'{"n":1,"text":"\xc3\xa9"}\n')


def test_new_folders_and_files_are_private(tmp_path):
    path = tmp_path / "state" / "audit" / "inbox" / "hub.jsonl"
    journal.append(path, [line(1)])
    for folder in (tmp_path / "state", tmp_path / "state" / "audit", path.parent):
        assert oct(folder.stat().st_mode & 0o777) == "0o700", folder
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_missing_file_reads_as_empty(tmp_path):
    assert journal.read(tmp_path / "none.jsonl") == journal.Lines()


def test_a_line_torn_by_a_crash_stays_alone_and_readers_skip_it(tmp_path):
    path = tmp_path / "ledger.jsonl"
    journal.append(path, [line(1)])
    with path.open("ab") as f:
        f.write(b'{"n": 2, "text": "cut of')  # the crash
    assert journal.read(path).torn == b'{"n": 2, "text": "cut of'
    journal.append(path, [line(3)])
    read = journal.read(path)
    records, bad = read.records()
    assert [r["n"] for r in records] == [1, 3]
    assert bad == [b'{"n": 2, "text": "cut of']
    assert read.torn == b""


def test_lines_that_are_not_objects_are_handed_back_apart(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"n": 1}\n\n[1]\nnot json\n{"n": 2}')
    records, bad = journal.read(path).records()
    assert records == [{"n": 1}] and bad == [b"[1]", b"not json", b'{"n": 2}']


def test_an_unfinished_line_is_refused():
    with pytest.raises(ValueError, match="end with a newline"):
        journal.append("/nonexistent/x.jsonl", [b'{"n": 1}'])


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink", "symlink-to-folder", "socket"])
def test_what_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "events.jsonl"
    target = tmp_path / "elsewhere"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # opened for writing without a reader, a plain open() blocks forever
    elif kind == "symlink":
        path.symlink_to(target)
    elif kind == "symlink-to-folder":
        target.mkdir()
        path.symlink_to(target)
    else:
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    with pytest.raises(journal.NotRegularFile, match="not a regular file"):
        journal.append(path, [line(1)])
    with pytest.raises(journal.NotRegularFile, match="not a regular file"):
        journal.read(path)
    assert not target.is_file(), "nothing written through the link"


def test_an_append_racing_a_rename_goes_to_the_new_file(tmp_path, monkeypatch):
    """The inbox claims a file by renaming it; a writer that opened it just before follows."""
    path = tmp_path / "hub.jsonl"
    journal.append(path, [line(1)])
    lock = journal.fcntl.flock
    renamed = []

    def flock_after_a_claim(fd, operation):
        if not renamed:
            path.rename(tmp_path / "hub.claimed")
            renamed.append(True)
        return lock(fd, operation)

    monkeypatch.setattr(journal.fcntl, "flock", flock_after_a_claim)
    journal.append(path, [line(2)])
    assert [r["n"] for r in journal.read(tmp_path / "hub.claimed").records()[0]] == [1]
    assert [r["n"] for r in journal.read(path).records()[0]] == [2]


def _writer(args):
    path, start = args
    for n in range(start, start + 200):
        journal.append(path, [line(n), line(n + 100_000)])


def test_processes_appending_at_once_never_mix_their_lines(tmp_path):
    path = str(tmp_path / "shared.jsonl")
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(_writer, [(path, 0), (path, 1000), (path, 2000)])
    lines = (tmp_path / "shared.jsonl").read_bytes().splitlines()
    numbers = [json.loads(text)["n"] for text in lines]
    assert len(numbers) == 1200
    pairs = list(zip(numbers[::2], numbers[1::2], strict=True))
    assert all(second == first + 100_000 for first, second in pairs), "a batch stays together"


def test_every_append_is_synced(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(journal.os, "fsync", lambda fd: synced.append(fd))
    journal.append(tmp_path / "new" / "x.jsonl", [line(1)])  # the file and its folder
    journal.append(tmp_path / "new" / "x.jsonl", [line(2)])
    assert len(synced) == 3
