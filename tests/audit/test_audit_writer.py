"""The writer: one per record, replays skipped, segments sealed, a reopened record goes on."""

from __future__ import annotations

import pytest

from jupyter_hds.audit.segments import list_segments
from jupyter_hds.audit.verify import Verifier
from jupyter_hds.audit.writer import ChainWriter, WriterBusy
from support.audit_entries import events, read_lines


def test_entries_are_numbered_and_chained(record):
    written = record.append(events(3))
    assert [e["seq"] for e in written] == [1, 2, 3]
    assert written[0]["prev"] == "0" * 64
    assert written[1]["prev"] == written[0]["hash"]


def test_a_replayed_event_is_written_once(record):
    batch = events(4)
    record.append(batch[:2])
    again = record.append(batch)  # the sender did not hear back and sends all four
    assert [e["id"] for e in again] == [e["id"] for e in batch[2:]]
    assert Verifier(record.directory).verify().entries == 4


def test_the_same_id_from_two_reporters_is_two_events(record):
    (one,) = events(1)
    record.append([one, dict(one, reported_by="server:bob/cohort-a")])
    assert record.head_seq == 2


def test_full_segments_are_sealed_to_parquet(record):
    record.append(events(23))
    assert len(record.to_seal) == 2
    record.seal_pending()
    kinds = [(s.first_seq, s.sealed) for s in list_segments(record.directory)]
    assert kinds == [(1, True), (11, True), (21, False)]
    assert Verifier(record.directory).verify().intact


def test_a_reopened_record_continues_its_chain_and_remembers_replays(tmp_path):
    first = ChainWriter(tmp_path, segment_entries=10, fsync=False).open()
    batch = events(15)
    first.append(batch)
    first.close()
    second = ChainWriter(tmp_path, segment_entries=10, fsync=False).open()
    assert second.head_seq == 15
    assert second.append(batch[10:]) == []  # replays across a restart are still recognised
    second.append(events(2))
    second.seal_pending()
    second.close()
    report = Verifier(tmp_path).verify()
    assert report.intact and report.entries == 17


def test_a_second_writer_is_refused(record):
    with pytest.raises(WriterBusy, match="only one audit service may run per record"):
        ChainWriter(record.directory).open()


def test_an_unfinished_write_is_cut_off_kept_aside_and_recorded(tmp_path):
    writer = ChainWriter(tmp_path, fsync=False).open()
    writer.append(events(2))
    writer.close()
    (segment,) = list_segments(tmp_path)
    with segment.path.open("ab") as stream:
        stream.write(b'{"seq": 3, "id": "cut')
    reopened = ChainWriter(tmp_path, fsync=False).open()
    reopened.close()
    entries = read_lines(segment.path)
    assert [e["action"] for e in entries][-1] == "audit.repaired"
    assert '"torn_bytes":21' in entries[-1]["details"]
    assert (
        segment.path.with_name(segment.path.name + ".torn").read_bytes()
        == b'{"seq": 3, "id": "cut\n'
    )
    assert Verifier(tmp_path).verify().intact


def test_a_broken_segment_is_not_sealed(record):
    record.append(events(12))
    path = record.to_seal[0].path
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    assert record.seal_pending() == []
    assert path.exists()  # kept as JSON lines, where verify reports the break
    assert not Verifier(record.directory).verify().intact


def test_a_leftover_of_a_sealing_cut_short_is_dropped(record):
    record.append(events(12))
    jsonl = record.to_seal[0].path
    content = jsonl.read_bytes()
    record.seal_pending()
    jsonl.write_bytes(content)  # as if the process died before removing the lines
    record.close()
    ChainWriter(record.directory).open().close()
    assert not jsonl.exists()
