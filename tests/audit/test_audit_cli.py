"""`hds audit verify` says whether the chain is intact and where it breaks; exit status follows."""

from __future__ import annotations

import csv
import io
import json

from jupyter_hds.cli import main
from support.audit_entries import events, read_lines, write_lines


def run(capsys, *args):
    status = main(["audit", *args])
    return status, capsys.readouterr().out


def test_verify_an_intact_record(record, capsys):
    record.append(events(3))
    status, out = run(capsys, "verify", "--directory", str(record.directory))
    assert status == 0
    assert "entries: 3 in 1 segment(s)" in out and "chain: intact" in out
    assert f"head: seq 3 hash {record.head_hash}" in out


def test_verify_a_tampered_record(record, capsys):
    record.append(events(3))
    path = record.directory / "segments" / "000000000001.jsonl"
    entries = read_lines(path)
    entries[1]["actor"] = "mallory"
    write_lines(path, entries)
    status, out = run(capsys, "verify", "--directory", str(record.directory))
    assert status == 1
    assert "chain: BROKEN (1 problem(s))" in out
    assert "breaks at seq 2 (segments/000000000001.jsonl line 2): its hash does not match" in out


def test_verify_with_an_anchor_and_as_json(record, capsys):
    record.append(events(3))
    anchor = f"{record.head_seq}:{record.head_hash}"
    status, out = run(
        capsys, "verify", "--directory", str(record.directory), "--anchor", anchor, "--json"
    )
    assert status == 0
    report = json.loads(out)
    assert report["intact"] and report["notes"] == ["anchor seq 3 matches"]


def test_show_and_export(record, capsys):
    record.append(events(3, actor="bob") + events(2, actor="alice"))
    status, out = run(capsys, "show", "--directory", str(record.directory), "--person", "bob")
    assert status == 0 and [json.loads(line)["seq"] for line in out.splitlines()] == [3, 2, 1]
    status, out = run(capsys, "export", "--directory", str(record.directory), "--person", "alice")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["seq", "id", "time"] and [r[0] for r in rows[1:]] == ["4", "5"]
