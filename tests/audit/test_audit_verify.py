"""Verify finds altered, deleted, reordered and inserted entries, in open and sealed segments."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jupyter_hds.audit import verify
from jupyter_hds.audit.entry import FIELDS, GENESIS, chain, entry_hash, message, message_array
from jupyter_hds.audit.segments import PARQUET_SCHEMA, list_segments
from jupyter_hds.audit.verify import Verifier, hashes, parse_anchor
from support.audit_entries import events, read_lines, write_lines


def open_segment(directory: Path) -> Path:
    return [s.path for s in list_segments(directory) if not s.sealed][-1]


def sealed_segment(directory: Path, index: int = 0) -> Path:
    return [s.path for s in list_segments(directory) if s.sealed][index]


def breaks(directory: Path, **kwargs) -> list[str]:
    return [str(b) for b in Verifier(directory).verify(**kwargs).breaks]


def test_an_untouched_record_is_intact(record):
    record.append(events(25))
    record.seal_pending()
    report = Verifier(record.directory).verify()
    assert report.intact, report.lines()
    assert (report.entries, report.segments, report.head_seq) == (25, 3, 25)
    assert report.head_hash == record.head_hash
    assert "chain: intact" in report.lines()


def test_an_empty_record_is_intact(record):
    assert Verifier(record.directory).verify().intact


# -- open segment (JSON lines) -------------------------------------------------------------


def test_an_altered_entry_is_found(record):
    record.append(events(5))
    path = open_segment(record.directory)
    entries = read_lines(path)
    entries[2]["outcome"] = "refused"
    write_lines(path, entries)
    assert breaks(record.directory) == [
        "seq 3 (segments/000000000001.jsonl line 3): "
        "its hash does not match its content (entry altered)"
    ]


def test_an_altered_and_rehashed_entry_breaks_the_next_link(record):
    record.append(events(5))
    path = open_segment(record.directory)
    entries = read_lines(path)
    entries[2]["actor"] = "mallory"
    entries[2]["hash"] = entry_hash(entries[2])
    write_lines(path, entries)
    (found,) = breaks(record.directory)
    assert found.startswith("seq 4 (segments/000000000001.jsonl line 4): its prev does not match")


def test_a_deleted_entry_is_found(record):
    record.append(events(5))
    path = open_segment(record.directory)
    entries = read_lines(path)
    del entries[1]
    write_lines(path, entries)
    assert breaks(record.directory) == [
        "seq 3 (segments/000000000001.jsonl line 2): entry 2 is missing (deleted)"
    ]


def test_reordered_entries_are_found(record):
    record.append(events(5))
    path = open_segment(record.directory)
    entries = read_lines(path)
    entries[1], entries[2] = entries[2], entries[1]
    write_lines(path, entries)
    found = breaks(record.directory)
    assert found[0] == "seq 3 (segments/000000000001.jsonl line 2): entry 2 is missing (deleted)"
    assert "seq 2 comes after seq 3 (entries reordered or duplicated)" in found[1]


def test_a_deleted_last_entry_is_found_with_an_anchor(record):
    record.append(events(5))
    anchor = (record.head_seq, record.head_hash)
    path = open_segment(record.directory)
    write_lines(path, read_lines(path)[:-1])
    assert Verifier(record.directory).verify().intact  # a cut tail looks whole without an anchor
    (found,) = breaks(record.directory, anchor=anchor)
    assert "the anchored entry is gone" in found


def test_a_rewritten_record_fails_an_earlier_anchor(record):
    record.append(events(5))
    anchor = (3, read_lines(open_segment(record.directory))[2]["hash"])
    path = open_segment(record.directory)
    entries = read_lines(path)
    entries[0]["actor"] = "mallory"
    previous = "0" * 64
    for entry in entries:  # a forger with write access recomputes the whole chain
        entry["prev"] = previous
        entry["hash"] = previous = entry_hash(entry)
    write_lines(path, entries)
    assert Verifier(record.directory).verify().intact
    (found,) = breaks(record.directory, anchor=anchor)
    assert "rewritten after the anchor was taken" in found


def test_an_unreadable_line_and_an_added_field_are_found(record):
    record.append(events(3))
    path = open_segment(record.directory)
    lines = path.read_text().splitlines()
    extra = json.loads(lines[2]) | {"note": "added"}
    path.write_text(lines[0] + "\n{not json\n" + json.dumps(extra) + "\n")
    found = breaks(record.directory)
    assert "line 2): unreadable line" in found[0]
    assert "fields note added or removed" in found[1]


def test_an_unfinished_last_line_is_a_note_not_a_break(record):
    record.append(events(3))
    with open_segment(record.directory).open("ab") as stream:
        stream.write(b'{"seq": 4, "id"')
    report = Verifier(record.directory).verify()
    assert report.intact
    assert report.notes == ["segments/000000000001.jsonl ends with 15 bytes of an unfinished write"]


# -- sealed segments (Parquet, checked by DuckDB) ----------------------------------------


def rewrite_parquet(path: Path, change, **options) -> None:
    table = pq.read_table(path)
    rows = table.to_pylist()
    rows = change(rows)
    pq.write_table(table.from_pylist(rows, schema=table.schema), path, **options)


def sealed_record(record, count=25):
    record.append(events(count))
    record.seal_pending()
    return record.directory


def test_an_altered_sealed_entry_is_found(record):
    directory = sealed_record(record)

    def alter(rows):
        rows[4]["target"] = "bob/cohort-b"
        return rows

    rewrite_parquet(sealed_segment(directory, 1), alter)
    assert breaks(directory) == [
        "seq 15 (segments/000000000011.parquet row 5): "
        "its hash does not match its content (entry altered)"
    ]


def test_a_deleted_sealed_entry_is_found(record):
    directory = sealed_record(record)
    rewrite_parquet(sealed_segment(directory, 0), lambda rows: rows[:3] + rows[4:])
    found = breaks(directory)
    assert found[0] == "seq 5 (segments/000000000001.parquet row 4): entry 4 is missing (deleted)"


def test_reordered_sealed_entries_are_found(record):
    directory = sealed_record(record)
    rewrite_parquet(sealed_segment(directory, 0), lambda rows: [rows[1], rows[0], *rows[2:]])
    assert breaks(directory) == [
        "seq 2 (segments/000000000001.parquet): the segment starts at seq 2 but is named after "
        "seq 1 (file renamed, or entries moved)",
        "seq 2 (segments/000000000001.parquet start): entry 1 is missing (deleted)",
        "seq 1 (segments/000000000001.parquet row 2): seq 1 comes after seq 2 "
        "(entries reordered or duplicated)",
        "seq 3 (segments/000000000001.parquet row 3): entry 2 is missing (deleted)",
    ]


def test_a_deleted_sealed_segment_is_found(record):
    directory = sealed_record(record)
    sealed_segment(directory, 1).unlink()
    (found,) = breaks(directory)
    assert found == (
        "seq 21 (segments/000000000021.jsonl start): entries 11..20 are missing (deleted)"
    )


def test_a_deleted_first_segment_is_found(record):
    directory = sealed_record(record)
    sealed_segment(directory, 0).unlink()
    (found,) = breaks(directory)
    assert "entries 1..10 are missing" in found


def test_a_sealed_segment_altered_after_a_check_is_checked_again(record):
    directory = sealed_record(record)
    verifier = Verifier(directory)
    assert verifier.verify().intact

    def alter(rows):
        rows[0]["outcome"] = "refused"
        return rows

    rewrite_parquet(sealed_segment(directory, 0), alter)
    assert not verifier.verify().intact


def test_a_byte_flipped_in_place_with_its_mtime_set_back_is_found(record):
    """Same inode, same size, same mtime: only the ctime, which cannot be set back, changed."""
    directory = sealed_record(record)
    verifier = Verifier(directory)
    assert verifier.verify().intact
    path = sealed_segment(directory, 0)
    before = path.stat()
    at = path.read_bytes().find(b"alice")  # the actor column's dictionary: every row's actor
    assert at > 0
    time.sleep(0.05)  # past the kernel's coarse clock tick, or the ctime may not move
    with path.open("r+b") as stream:
        stream.seek(at)
        stream.write(b"A")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    found = [str(b) for b in verifier.verify().breaks]
    assert len(found) == 10
    assert found[0] == (
        "seq 1 (segments/000000000001.parquet row 1): "
        "its hash does not match its content (entry altered)"
    )


@pytest.mark.parametrize("text", ["12", "x:" + "a" * 64, "12:abc", ""])
def test_a_bad_anchor_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="must be SEQ:HASH"):
        parse_anchor(text)


def test_a_sealed_segment_damaged_past_reading_is_reported_not_a_crash(record):
    """Bytes altered in the first page's header: its footer reads, its rows do not."""
    directory = sealed_record(record)
    path = sealed_segment(directory, 0)
    data = bytearray(path.read_bytes())
    data[4:36] = b"\xff" * 32  # right after the magic "PAR1": the first page header
    path.write_bytes(bytes(data))
    report = Verifier(directory).verify()
    assert not report.intact
    assert any("000000000001.parquet" in str(b) for b in report.breaks), report.lines()


def test_a_sealed_segment_in_several_row_groups_is_checked_across_them(record):
    directory = sealed_record(record)
    path = sealed_segment(directory, 0)
    rewrite_parquet(path, lambda rows: rows, row_group_size=3)
    assert pq.ParquetFile(path).num_row_groups == 4
    assert Verifier(directory).verify().intact

    def alter(rows):
        rows[3]["actor"] = "mallory"  # the first row of the second row group
        rows[3]["hash"] = entry_hash(rows[3])
        return rows

    rewrite_parquet(path, alter, row_group_size=3)
    (found,) = breaks(directory)
    assert found.startswith("seq 5 (segments/000000000001.parquet row 5): its prev does not match")


def test_missing_values_in_a_sealed_segment_are_breaks(record):
    directory = sealed_record(record)

    def blank(rows):
        rows[2]["hash"] = None
        rows[5]["seq"] = None
        return rows

    rewrite_parquet(sealed_segment(directory, 0), blank)
    assert breaks(directory) == [
        "seq 3 (segments/000000000001.parquet row 3): "
        "its hash does not match its content (entry altered)",
        "seq 4 (segments/000000000001.parquet row 4): its prev does not match the hash of seq 3 "
        "(that entry was altered and rehashed, or this one replaced)",
        "? (segments/000000000001.parquet row 6): "
        "its hash does not match its content (entry altered)",
    ]  # row 7 links to a row without seq: the break is told once, at row 6


def test_bytes_that_are_not_text_make_a_sealed_segment_unreadable(record):
    directory = sealed_record(record)
    path = sealed_segment(directory, 0)
    data = path.read_bytes()
    at = data.find(b"alice")
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    unreadable, after = breaks(directory)
    assert unreadable.startswith("? (segments/000000000001.parquet): segment unreadable")
    assert "entries 1..10 are missing" in after


@pytest.mark.parametrize(
    ("case_id", "change"),
    [
        ("dropped", lambda table: table.drop_columns(["details"])),
        ("retyped", lambda table: table.set_column(6, "action", table["action"].cast(pa.binary()))),
        (
            "dictionary",
            lambda table: table.set_column(8, "target", table["target"].dictionary_encode()),
        ),
    ],
    ids=["dropped", "retyped", "dictionary"],
)
def test_a_sealed_segment_with_altered_columns_is_reported(record, case_id, change):
    directory = sealed_record(record)
    path = sealed_segment(directory, 0)
    pq.write_table(change(pq.read_table(path)), path)
    assert breaks(directory)[0] == "? (segments/000000000001.parquet): segment columns altered"


def test_worker_processes_find_what_one_process_finds(record, monkeypatch):
    directory = sealed_record(record, count=45)

    def alter(rows):
        rows[4]["target"] = "bob/cohort-b"
        return rows

    rewrite_parquet(sealed_segment(directory, 2), alter)
    sealed_segment(directory, 1).unlink()
    alone = Verifier(directory, workers=1).verify()
    monkeypatch.setattr(verify, "PARALLEL_BYTES", 0)
    shared = Verifier(directory, workers=2)
    assert shared.verify() == alone
    assert [str(b) for b in alone.breaks] == [
        "seq 21 (segments/000000000021.parquet start): entries 11..20 are missing (deleted)",
        "seq 25 (segments/000000000021.parquet row 5): "
        "its hash does not match its content (entry altered)",
    ]
    assert shared.verify() == alone  # from its cache this time, no worker needed


# -- the vectorised message and hashes ------------------------------------------------------

ODD_VALUES = [
    ("plain", "alice"),
    ("empty", ""),
    ("none", None),
    ("unicode", "Zoé Ærø 数据"),
    ("separators", "a|3:b~|"),
    ("quotes-newlines", 'it\'s "quoted"\nand\ttabbed'),
    ("emoji", "🩺"),
    ("long", "x" * 70_000),
]


@pytest.mark.parametrize(("case_id", "value"), ODD_VALUES, ids=[c for c, _ in ODD_VALUES])
def test_arrow_builds_and_hashes_the_same_message_as_python(case_id, value):
    event = {"id": "a" * 32, "time": "t", "actor": value, "actor_kind": "user", "action": "x",
             "project": value, "target": value, "outcome": "allowed", "source": value,
             "reported_by": "hub", "details": {"v": value}}  # fmt: skip
    entries = [chain(event, 7, GENESIS), chain(event, 123456789012, "f" * 64)]
    entries.append({name: None for name in FIELDS})
    table = pa.Table.from_pylist(entries, schema=PARQUET_SCHEMA)
    built = message_array(table)
    assert built.to_pylist() == [message(e) for e in entries]
    assert hashes(built).to_pylist() == [entry_hash(e) for e in entries]
    # as verify reads a segment: repeated columns as dictionaries (int8 indices here), in batches
    encoded = {name: table[name].dictionary_encode() for name in verify.REPEATED}
    tiny = {name: pa.chunked_array(
        [pa.DictionaryArray.from_arrays(c.indices.cast(pa.int8()), c.dictionary) for c in col.chunks]
    ) for name, col in encoded.items()}  # fmt: skip
    split = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    for name, column in tiny.items():
        split = split.set_column(split.schema.get_field_index(name), name, column)
    assert message_array(split).to_pylist() == [message(e) for e in entries]


def test_no_rows_no_messages():
    empty = PARQUET_SCHEMA.empty_table()
    assert hashes(message_array(empty)).to_pylist() == []
