"""Checking the hash chain: every entry's hash matches its content and links to the entry before."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from .entry import FIELDS, GENESIS, entry_hash, sql_message
from .segments import PARQUET_SCHEMA, Segment, complete_lines, list_segments, torn_tail

MAX_BREAKS = 100
# Rows of a sealed segment whose hash or link is wrong, in file order.
CHECK_PARQUET = f"""
WITH r AS (
    SELECT file_row_number AS row, seq, prev, hash, sha256({sql_message()}) AS computed,
           lag(seq) OVER (ORDER BY file_row_number) AS before_seq,
           lag(hash) OVER (ORDER BY file_row_number) AS before_hash
    FROM read_parquet(?, file_row_number = true)
)
SELECT row, seq, prev, hash, computed, before_seq, before_hash FROM r
WHERE computed IS DISTINCT FROM hash
   OR (before_seq IS NOT NULL
       AND (seq IS DISTINCT FROM before_seq + 1 OR prev IS DISTINCT FROM before_hash))
ORDER BY row LIMIT {MAX_BREAKS}
"""  # noqa: S608 (fixed text: sql_message() builds no value in)


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
    """Check a sealed Parquet segment with DuckDB: every hash recomputed, every link compared."""
    summary = SegmentSummary(segment.name)
    try:
        schema = pq.read_schema(segment.path)
    except Exception as error:
        _add(summary, Break(segment.name, None, f"segment unreadable ({error})"))
        return summary
    if not schema.remove_metadata().equals(PARQUET_SCHEMA):
        _add(summary, Break(segment.name, None, "segment columns altered"))
        return summary
    con = duckdb.connect()
    try:
        count, first_seq, first_prev, last_seq, last_hash = con.execute(
            "SELECT count(*), arg_min(seq, file_row_number), arg_min(prev, file_row_number), "
            "arg_max(seq, file_row_number), arg_max(hash, file_row_number) "
            "FROM read_parquet(?, file_row_number = true)",
            [str(segment.path)],
        ).fetchone() or (0, None, None, None, None)
        rows = con.execute(CHECK_PARQUET, [str(segment.path)]).fetchall()
    except duckdb.Error as error:  # bytes altered where Parquet cannot read past them
        _add(summary, Break(segment.name, None, f"segment unreadable ({error})"))
        return summary
    summary.count, summary.first_seq, summary.first_prev = count, first_seq, first_prev
    summary.last_seq, summary.last_hash = last_seq, last_hash
    for row, seq, prev, hash_, computed, before_seq, before_hash in rows:
        where = f"{segment.name} row {row + 1}"
        if computed != hash_:
            problem = "its hash does not match its content (entry altered)"
        else:
            problem = link_problem(seq, prev, before_seq, before_hash) or "link broken"
        _add(summary, Break(where, seq, problem))
    return summary


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
    The command line uses a fresh Verifier: a full check every time.
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self._sealed: dict[Path, tuple[tuple[int, ...], SegmentSummary]] = {}

    def verify(self, anchor: tuple[int, str] | None = None) -> Report:
        report = Report(str(self.directory))
        segments = list_segments(self.directory)
        summaries = [self._summary(segment) for segment in segments]
        self._link(report, segments, summaries)
        if anchor:
            self._check_anchor(report, segments, anchor)
        return report

    def _summary(self, segment: Segment) -> SegmentSummary:
        if not segment.sealed:
            return verify_jsonl(segment)
        stat = os.stat(segment.path)
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        cached = self._sealed.get(segment.path)
        if cached and cached[0] == key:
            return cached[1]
        summary = verify_parquet(segment)
        self._sealed[segment.path] = (key, summary)
        return summary

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
