"""The record's one writer: numbers, chains and appends entries; seals full segments to Parquet."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any

from .entry import GENESIS, chain, to_line
from .intake import new_event
from .segments import (
    Segment,
    complete_lines,
    fsync_dir,
    last_entry,
    list_segments,
    segment_path,
    torn_tail,
    write_parquet,
)
from .verify import verify_jsonl, verify_parquet

log = logging.getLogger("jupyter_hds.audit")


class WriterBusy(RuntimeError):
    """Another process holds the record's writer lock."""


class SealRefused(RuntimeError):
    """A segment was not sealed because its chain is broken; it stays as JSON lines."""


class ChainWriter:
    """Appends events to the record as chained entries. Only one per record, enforced by a lock.

    Events carry an `id` and a `reported_by`; an event whose (reported_by, id) is among the
    last `dedup_window` entries is a replay and is skipped, so senders may retry freely.
    """

    def __init__(
        self,
        directory: Path | str,
        segment_entries: int = 50_000,
        fsync: bool = True,
        dedup_window: int = 200_000,
    ):
        self.directory = Path(directory)
        self.segment_entries = segment_entries
        self.fsync = fsync
        self.dedup_window = dedup_window
        self.head_seq, self.head_hash = 0, GENESIS
        self.to_seal: list[Segment] = []
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._open: Segment | None = None
        self._open_count = 0
        self._recent: deque[tuple[str, str]] = deque()
        self._recent_keys: set[tuple[str, str]] = set()

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> ChainWriter:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.directory / "segments").mkdir(exist_ok=True, mode=0o700)
        self._take_lock()
        self._drop_sealed_leftovers()
        segments = list_segments(self.directory)
        repaired = self._repair_torn_tail(segments)
        self._load_head(segments)
        self._load_recent(segments)
        self.to_seal = [s for s in segments[:-1] if not s.sealed]
        if segments and not segments[-1].sealed:
            self._open = segments[-1]
            self._open_count = sum(1 for _ in complete_lines(self._open.path))
        if repaired:
            self.append([repaired])
        return self

    def _take_lock(self) -> None:
        path = self.directory / "writer.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WriterBusy(
                f"another process (pid {holder}) is writing the audit record in {self.directory}; "
                "only one audit service may run per record"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _drop_sealed_leftovers(self) -> None:
        """A crash between sealing and removing the JSON lines leaves both; Parquet is complete."""
        for jsonl in (self.directory / "segments").glob("*.jsonl"):
            if jsonl.with_suffix(".parquet").exists():
                jsonl.unlink()

    def _repair_torn_tail(self, segments: list[Segment]) -> dict[str, Any] | None:
        """Cut an unfinished last line off the open segment, keep its bytes aside, say so."""
        if not segments or segments[-1].sealed:
            return None
        path = segments[-1].path
        torn = torn_tail(path)
        if not torn:
            return None
        size = path.stat().st_size
        with path.open("r+b") as stream:
            stream.seek(size - torn)
            tail = stream.read()
            kept = path.with_name(path.name + ".torn")
            with kept.open("ab") as aside:
                aside.write(tail + b"\n")
            stream.truncate(size - torn)
        log.warning("audit: cut %d bytes of an unfinished write off %s", torn, path)
        return new_event(
            "audit.repaired",
            "service:audit",
            "service",
            "succeeded",
            reported_by="audit",
            target=f"segments/{path.name}",
            details={"torn_bytes": torn, "kept_in": f"segments/{kept.name}"},
        )

    def _load_head(self, segments: list[Segment]) -> None:
        for segment in reversed(segments):
            entry = last_entry(segment)
            if entry:
                self.head_seq, self.head_hash = entry["seq"], entry["hash"]
                return

    def _load_recent(self, segments: list[Segment]) -> None:
        keys: list[tuple[str, str]] = []
        for segment in reversed(segments):
            keys = self._segment_keys(segment) + keys
            if len(keys) >= self.dedup_window:
                break
        for key in keys[-self.dedup_window :]:
            self._remember(key)

    @staticmethod
    def _segment_keys(segment: Segment) -> list[tuple[str, str]]:
        if segment.sealed:
            import pyarrow.parquet as pq

            table = pq.read_table(segment.path, columns=["reported_by", "id"])
            return list(
                zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True)
            )
        keys = []
        for _, line in complete_lines(segment.path):
            try:
                entry = json.loads(line)
                keys.append((entry["reported_by"], entry["id"]))
            except (ValueError, KeyError, TypeError):
                continue
        return keys

    # -- appending -------------------------------------------------------------------------

    def seen(self, event: dict[str, Any]) -> bool:
        return (event.get("reported_by"), event.get("id")) in self._recent_keys

    def append(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain and write `events` (replays skipped); return the new entries, durably written."""
        written = []
        batch: list[bytes] = []
        for event in events:
            if self.seen(event):
                continue
            if self._fd is None or self._open_count >= self.segment_entries:
                self._flush(batch)
                batch = []
                self._rotate()
            entry = chain(event, self.head_seq + 1, self.head_hash)
            batch.append(to_line(entry))
            self.head_seq, self.head_hash = entry["seq"], entry["hash"]
            self._open_count += 1
            self._remember((entry["reported_by"], entry["id"]))
            written.append(entry)
        self._flush(batch)
        return written

    def _flush(self, lines: list[bytes]) -> None:
        if not lines:
            return
        assert self._fd is not None, "append opens the segment before writing"
        data = b"".join(lines)
        view = memoryview(data)
        while view:
            done = os.write(self._fd, view)
            view = view[done:]
        if self.fsync:
            os.fsync(self._fd)

    def _rotate(self) -> None:
        """Open the segment to append to; a full one is closed and waits in `to_seal`."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._open is not None and self._open_count >= self.segment_entries:
            self.to_seal.append(self._open)
            self._open = None
        if self._open is None:
            path = segment_path(self.directory, self.head_seq + 1, "jsonl")
            self._open, self._open_count = Segment(self.head_seq + 1, path), 0
        self._fd = os.open(self._open.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fsync_dir(self._open.path.parent)

    def _remember(self, key: tuple[str, str]) -> None:
        self._recent.append(key)
        self._recent_keys.add(key)
        while len(self._recent) > self.dedup_window:
            self._recent_keys.discard(self._recent.popleft())

    # -- sealing ---------------------------------------------------------------------------

    def seal_pending(self) -> list[Segment]:
        """Seal every closed JSON-lines segment; safe to run in a thread beside `append`."""
        sealed = []
        while self.to_seal:
            segment = self.to_seal[0]
            try:
                sealed.append(seal(segment))
            except SealRefused as error:
                log.error("audit: %s", error)
            self.to_seal.pop(0)
        return sealed

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None


def seal(segment: Segment) -> Segment:
    """Rewrite a closed JSON-lines segment as Parquet, checked entry by entry; drop the lines."""
    summary = verify_jsonl(segment)
    if summary.breaks or summary.torn_bytes:
        where = summary.breaks[0] if summary.breaks else "its unfinished last line"
        raise SealRefused(f"not sealing {segment.name}: its chain is broken at {where}")
    entries = [json.loads(line) for _, line in complete_lines(segment.path)]
    target = segment.path.with_suffix(".parquet")
    write_parquet(target, entries)
    sealed = Segment(segment.first_seq, target)
    check = verify_parquet(sealed)
    same = (check.count, check.first_prev, check.last_hash) == (
        summary.count,
        summary.first_prev,
        summary.last_hash,
    )
    if check.breaks or not same:
        target.unlink()
        raise SealRefused(f"not sealing {segment.name}: the Parquet copy did not verify")
    segment.path.unlink()
    fsync_dir(segment.path.parent)
    return sealed
