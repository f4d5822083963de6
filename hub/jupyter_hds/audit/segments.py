"""Where the record lives on disk: numbered segments, JSON lines while open, Parquet once sealed.

<directory>/segments/000000000001.parquet   sealed: entries 1..N, never written again
<directory>/segments/000000100001.jsonl     open: the writer appends one line per entry
<directory>/inbox/                          events waiting to be chained (see inbox.py)
<directory>/writer.lock                     held by the one process that writes the record
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hds_records.journal import fsync_dir, fsync_file

from .entry import FIELDS

SEGMENT_NAME = re.compile(r"^(\d{12})\.(jsonl|parquet)$")
PARQUET_SCHEMA = pa.schema(
    [("seq", pa.int64())] + [(name, pa.string()) for name in FIELDS if name != "seq"]
)


@dataclass(frozen=True)
class Segment:
    """One file of the record, named after the sequence number of its first entry."""

    first_seq: int
    path: Path

    @property
    def sealed(self) -> bool:
        return self.path.suffix == ".parquet"

    @property
    def name(self) -> str:
        return f"segments/{self.path.name}"


def segment_path(directory: Path, first_seq: int, suffix: str) -> Path:
    return directory / "segments" / f"{first_seq:012d}.{suffix}"


def list_segments(directory: Path) -> list[Segment]:
    """The record's segments in order; a sealed Parquet wins over a JSON-lines leftover."""
    found: dict[int, Path] = {}
    folder = Path(directory) / "segments"
    if not folder.is_dir():
        return []
    for path in folder.iterdir():
        match = SEGMENT_NAME.match(path.name)
        if not match:
            continue
        first = int(match.group(1))
        if first not in found or path.suffix == ".parquet":
            found[first] = path
    return [Segment(first, found[first]) for first in sorted(found)]


def complete_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each newline-terminated line; a torn last line is left out."""
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.endswith(b"\n"):
                return
            yield number, line


def torn_tail(path: Path) -> int:
    """Bytes after the last newline of `path` (a write cut short by a crash), 0 if none."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as stream:
        back = min(size, 1 << 20)
        stream.seek(size - back)
        tail = stream.read(back)
    cut = tail.rfind(b"\n")
    return len(tail) - cut - 1


def last_entry(segment: Segment) -> dict[str, Any] | None:
    """The last complete entry of a segment, or None when it holds none."""
    if segment.sealed:
        table = pq.read_table(segment.path)
        if table.num_rows == 0:
            return None
        return {name: table.column(name)[table.num_rows - 1].as_py() for name in FIELDS}
    last = None
    for _, line in complete_lines(segment.path):
        last = line
    return json.loads(last) if last else None


def write_parquet(path: Path, entries: list[dict[str, Any]]) -> None:
    """Write `entries` as a Parquet segment under a temporary name, then move it in place."""
    columns = {name: [entry[name] for entry in entries] for name in FIELDS}
    write_table(path, pa.Table.from_pydict(columns, schema=PARQUET_SCHEMA))


def write_table(path: Path, table: pa.Table) -> None:
    """Write a table with the record's columns as a Parquet segment, as `write_parquet` does."""
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial, compression="zstd", row_group_size=65536)
    fsync_file(partial)
    partial.rename(path)
    fsync_dir(path.parent)
