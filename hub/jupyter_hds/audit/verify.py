"""Checking the hash chain: every entry's hash matches its content and links to the entry before."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .entry import FIELDS, GENESIS, entry_hash, message_array
from .segments import PARQUET_SCHEMA, Segment, complete_lines, list_segments, torn_tail

MAX_BREAKS = 100
# Sealed segments to check worth starting worker processes for (about a third of a second
# each): some 12 segments of 50,000 entries.
PARALLEL_BYTES = 64 << 20
# Columns with few distinct values, read as dictionaries: each value is decoded and labelled
# once a segment, not once a row.
REPEATED = ("actor", "actor_kind", "action", "project", "outcome", "source", "reported_by")
READ_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in REPEATED else f
        for f in PARQUET_SCHEMA
    ]
)


@dataclass(frozen=True)
class Break:
    """Where the chain breaks and what is wrong there."""

    location: str
    seq: int | None
    problem: str

    def __str__(self) -> str:
        at = f"seq {self.seq}" if self.seq is not None else "?"
        return f"{at} ({self.location}): {self.problem}"


@dataclass
class SegmentSummary:
    """A segment's first and last links, its size, and the breaks found inside it."""

    name: str
    count: int = 0
    first_seq: int | None = None
    first_prev: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    breaks: list[Break] = field(default_factory=list)
    torn_bytes: int = 0


@dataclass
class Report:
    """The verdict on a whole record."""

    directory: str
    segments: int = 0
    entries: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    breaks: list[Break] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    def lines(self, limit: int = 20) -> list[str]:
        out = [
            f"audit record: {self.directory}",
            f"entries: {self.entries} in {self.segments} segment(s)",
            f"head: seq {self.head_seq} hash {self.head_hash}"
            if self.head_seq
            else "head: (empty)",
        ]
        if self.intact:
            out.append("chain: intact")
        else:
            out.append(f"chain: BROKEN ({len(self.breaks)} problem(s))")
            out += [f"  breaks at {b}" for b in self.breaks[:limit]]
            if len(self.breaks) > limit:
                out.append(f"  ... and {len(self.breaks) - limit} more")
        out += [f"note: {note}" for note in self.notes]
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["intact"] = self.intact
        return data


def link_problem(
    seq: Any, prev: Any, before_seq: int | None, before_hash: str | None
) -> str | None:
    """What is wrong with the link from the entry before (seq, hash) to this one, if anything."""
    if not isinstance(seq, int) or isinstance(seq, bool):
        return f"seq {seq!r} is not a number (entry altered)"
    if before_seq is None:
        return None
    if seq <= before_seq:
        return f"seq {seq} comes after seq {before_seq} (entries reordered or duplicated)"
    if seq > before_seq + 1:
        if seq == before_seq + 2:
            return f"entry {before_seq + 1} is missing (deleted)"
        return f"entries {before_seq + 1}..{seq - 1} are missing (deleted)"
    if prev != before_hash:
        return (
            f"its prev does not match the hash of seq {before_seq} "
            "(that entry was altered and rehashed, or this one replaced)"
        )
    return None


def hash_problem(entry: dict[str, Any]) -> str | None:
    if set(entry) != set(FIELDS):
        odd = sorted(set(entry) ^ set(FIELDS))
        return f"fields {', '.join(odd)} added or removed (entry altered)"
    if entry_hash(entry) != entry["hash"]:
        return "its hash does not match its content (entry altered)"
    return None


def verify_jsonl(segment: Segment) -> SegmentSummary:
    """Check an open (or not yet sealed) JSON-lines segment line by line."""
    summary = SegmentSummary(segment.name)
    before_seq = before_hash = None
    for number, line in complete_lines(segment.path):
        where = f"{segment.name} line {number}"
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError
        except ValueError:
            _add(summary, Break(where, None, "unreadable line (not a JSON entry)"))
            continue
        seq = entry.get("seq")
        problem = hash_problem(entry) or link_problem(
            seq, entry.get("prev"), before_seq, before_hash
        )
        if problem:
            _add(summary, Break(where, seq if isinstance(seq, int) else None, problem))
        _count(summary, entry)
        if isinstance(seq, int):
            before_seq = seq
        before_hash = entry.get("hash")
    summary.torn_bytes = torn_tail(segment.path)
    return summary


def verify_parquet(segment: Segment) -> SegmentSummary:
    """Check a sealed Parquet segment: every hash recomputed, every link compared."""
    summary = SegmentSummary(segment.name)
    try:
        with pq.ParquetFile(segment.path, read_dictionary=REPEATED) as file:
            if not file.schema_arrow.remove_metadata().equals(READ_SCHEMA):
                _add(summary, Break(segment.name, None, "segment columns altered"))
                return summary
            table = file.read(use_threads=False)
        rows = broken_rows(table)
        summary.breaks = [row_break(segment, table, row) for row in rows]
    except (pa.ArrowException, OSError, UnicodeError) as error:  # bytes past reading
        _add(summary, Break(segment.name, None, f"segment unreadable ({error})"))
        return summary
    if table.num_rows:
        summary.count = table.num_rows
        summary.first_seq, summary.first_prev = table["seq"][0].as_py(), table["prev"][0].as_py()
        summary.last_seq, summary.last_hash = table["seq"][-1].as_py(), table["hash"][-1].as_py()
    return summary


def broken_rows(table: pa.Table) -> list[int]:
    """Rows (file order) whose hash does not match their content, or whose link is broken."""
    altered = _distinct(hashes(message_array(table)), table["hash"].combine_chunks())
    seq, prev, hash_ = (table[name].combine_chunks() for name in ("seq", "prev", "hash"))
    before_seq, after = seq[:-1], seq[1:]
    unlinked = pc.and_(
        pc.is_valid(before_seq),
        pc.or_(_distinct(after, pc.add(before_seq, 1)), _distinct(prev[1:], hash_[:-1])),
    )
    broken = altered.to_numpy(zero_copy_only=False)
    broken[1:] |= unlinked.to_numpy(zero_copy_only=False)
    return np.flatnonzero(broken)[:MAX_BREAKS].tolist()


def row_break(segment: Segment, table: pa.Table, row: int) -> Break:
    """What is wrong at `row`, told from its values and those of the row before."""
    *before, entry = table.slice(max(row - 1, 0), min(row, 1) + 1).to_pylist()
    seq = entry["seq"]
    if entry_hash(entry) != entry["hash"]:
        problem = "its hash does not match its content (entry altered)"
    else:
        before_seq, before_hash = (before[0]["seq"], before[0]["hash"]) if before else (None, None)
        problem = link_problem(seq, entry["prev"], before_seq, before_hash) or "link broken"
    return Break(f"{segment.name} row {row + 1}", seq, problem)


def hashes(messages: pa.ChunkedArray) -> pa.Array:
    """The SHA-256 of each message, as lowercase hex text (hashlib's C code, one call each)."""
    digests = b"".join(map(_digests, pc.cast(messages, pa.binary()).chunks))
    text = pa.py_buffer(digests.hex().encode())
    ends = pa.py_buffer(np.arange(0, len(text) + 1, 64, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), len(messages), [None, ends, text])


def _digests(chunk: pa.BinaryArray) -> bytes:
    """The 32-byte digests of a chunk's values, end to end."""
    offsets = np.frombuffer(chunk.buffers()[1], np.int32, len(chunk) + 1, chunk.offset * 4)
    stream = io.BytesIO(chunk.buffers()[2] or b"")  # read() makes each value a bytes object
    stream.seek(offsets[0])
    return b"".join(map(_DIGEST, map(sha256, map(stream.read, np.diff(offsets).tolist()))))


_DIGEST = type(sha256()).digest


def _distinct(left: Any, right: Any) -> pa.Array:
    """SQL's IS DISTINCT FROM: unequal, or exactly one of the two is null."""
    differ = pc.not_equal(left, right)
    return pc.fill_null(differ, pc.xor(pc.is_null(left), pc.is_null(right)))


@contextmanager
def checking(segments: list[Segment], workers: int) -> Iterator[Iterator[SegmentSummary]]:
    """The summaries of sealed `segments` in order, checked by up to `workers` processes.

    Hashing holds Python's lock, so threads would take turns: processes share the work.
    They are spawned (not forked from a process that may run threads), and only when more
    than one segment is to be checked.
    """
    workers = min(workers, len(segments))
    if workers < 2:
        yield map(verify_parquet, segments)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool.map(verify_parquet, segments)


def _file_key(path: Path) -> tuple[int, ...]:
    stat = os.stat(path)
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _add(summary: SegmentSummary, found: Break) -> None:
    if len(summary.breaks) < MAX_BREAKS:
        summary.breaks.append(found)


def _count(summary: SegmentSummary, entry: dict[str, Any]) -> None:
    seq = entry.get("seq")
    if summary.count == 0:
        summary.first_seq, summary.first_prev = seq, entry.get("prev")
    summary.count += 1
    summary.last_seq, summary.last_hash = seq, entry.get("hash")


class Verifier:
    """Verifies a record; remembers sealed segments it has checked, keyed by their file identity.

    A sealed segment is re-checked whenever its inode, size, mtime or ctime change (ctime
    cannot be set back from user space), so the audit page stays cheap on a large record.
    The command line uses a fresh Verifier: a full check every time. Sealed segments to check
    are shared among `workers` processes (default: one per CPU this process may use).
    """

    def __init__(self, directory: Path | str, workers: int | None = None):
        self.directory = Path(directory)
        self.workers = workers or len(os.sched_getaffinity(0))
        self._sealed: dict[Path, tuple[tuple[int, ...], SegmentSummary]] = {}

    def verify(self, anchor: tuple[int, str] | None = None) -> Report:
        report = Report(str(self.directory))
        segments = list_segments(self.directory)
        keys = {s.path: _file_key(s.path) for s in segments if s.sealed}
        stale = [s for s in segments if s.sealed and self._checked(s.path) != keys[s.path]]
        size = sum(keys[s.path][1] for s in stale)
        with checking(stale, self.workers if size >= PARALLEL_BYTES else 1) as checked:
            opened = {s.path: verify_jsonl(s) for s in segments if not s.sealed}  # meanwhile
            for segment, summary in zip(stale, checked, strict=True):
                self._sealed[segment.path] = (keys[segment.path], summary)
        summaries = [self._sealed[s.path][1] if s.sealed else opened[s.path] for s in segments]
        self._link(report, segments, summaries)
        if anchor:
            self._check_anchor(report, segments, anchor)
        return report

    def _checked(self, path: Path) -> tuple[int, ...] | None:
        """The file identity of `path` when it was last checked, if it was."""
        cached = self._sealed.get(path)
        return cached[0] if cached else None

    def _link(self, report: Report, segments: list[Segment], summaries: list[SegmentSummary]):
        before_seq: int | None = 0
        before_hash: str | None = GENESIS
        for segment, summary in zip(segments, summaries, strict=True):
            report.segments += 1
            report.entries += summary.count
            if summary.count:
                if summary.first_seq != segment.first_seq:
                    renamed = (
                        f"the segment starts at seq {summary.first_seq} but is named after "
                        f"seq {segment.first_seq} (file renamed, or entries moved)"
                    )
                    report.breaks.append(Break(summary.name, summary.first_seq, renamed))
                problem = link_problem(
                    summary.first_seq, summary.first_prev, before_seq, before_hash
                )
                if problem:
                    report.breaks.append(Break(f"{summary.name} start", summary.first_seq, problem))
                before_seq, before_hash = summary.last_seq, summary.last_hash
            report.breaks += summary.breaks
            if summary.torn_bytes:
                report.notes.append(
                    f"{summary.name} ends with {summary.torn_bytes} bytes of an unfinished write"
                )
        report.head_seq = before_seq or None
        report.head_hash = before_hash if before_seq else None

    def _check_anchor(self, report: Report, segments: list[Segment], anchor: tuple[int, str]):
        seq, expected = anchor
        found = find_entry(segments, seq)
        if found is None:
            report.breaks.append(
                Break("anchor", seq, "the anchored entry is gone (record truncated or rewritten)")
            )
        elif found.get("hash") != expected:
            report.breaks.append(
                Break(
                    "anchor",
                    seq,
                    f"hash is {found.get('hash')}, the anchor says {expected} "
                    "(the record was rewritten after the anchor was taken)",
                )
            )
        else:
            report.notes.append(f"anchor seq {seq} matches")


def find_entry(segments: list[Segment], seq: int) -> dict[str, Any] | None:
    """The entry numbered `seq`, read from the segment that should hold it."""
    holder = [s for s in segments if s.first_seq <= seq]
    if not holder:
        return None
    segment = holder[-1]
    if segment.sealed:
        row = (
            duckdb.connect()
            .execute(
                "SELECT hash FROM read_parquet(?) WHERE seq = ? LIMIT 1", [str(segment.path), seq]
            )
            .fetchone()
        )
        return {"seq": seq, "hash": row[0]} if row else None
    for _, line in complete_lines(segment.path):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("seq") == seq:
            return entry
    return None


def parse_anchor(text: str) -> tuple[int, str]:
    """`SEQ:HASH` as printed by `hds audit verify` (head line) or the audit page."""
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"anchor {text!r} must be SEQ:HASH, e.g. 1234:{'ab' * 32}")
    return int(seq), digest.lower()
