"""Events waiting to be chained: JSON lines any process appends; the audit service drains them.

Writers append with the shared journal writer (`hds_records.journal`: whole lines under an
exclusive lock, fsync before returning), so an event handed to `put` survives a crash of the
hub or of the audit service. The service claims a file by renaming it, waits for that file's
lock (a writer may still be finishing), reads it, chains its events and deletes it; a crash
in between only causes a replay, which the writer recognises by event id. A line a crash
left unfinished is not dropped: it is kept in an `audit.inbox.unreadable` entry.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hds_records import journal

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


@dataclass
class Claimed:
    """A claimed inbox file's events, and its lines that could not be read."""

    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


class Inbox:
    def __init__(self, directory: Path | str):
        self.folder = Path(directory) / "inbox"

    def put(self, events: list[dict[str, Any]], source: str = "hub") -> None:
        """Append `events` to this source's inbox file; durable when this returns."""
        if not SOURCE_NAME.match(source):
            raise ValueError(f"inbox source {source!r}: use lowercase letters, digits, - and _")
        journal.append(self.folder / f"{source}.jsonl", [journal.encode(e) for e in events])

    def claim(self) -> list[Path]:
        """Take every inbox file for draining; older claims (a crashed drain) come first."""
        if not self.folder.is_dir():
            return []
        for path in sorted(self.folder.glob("*.jsonl")):
            path.rename(path.with_name(f"{path.stem}.{time.time_ns():020d}.claimed"))
        return sorted(self.folder.glob("*.claimed"), key=lambda p: p.name.split(".")[1])

    def read(self, path: Path) -> Claimed:
        """Events of a claimed file, once any writer still holding it has finished."""
        events, unreadable = journal.read(path).records()
        return Claimed(path, events, [line.decode(errors="replace")[:2000] for line in unreadable])

    def done(self, path: Path) -> None:
        path.unlink()
        journal.fsync_dir(self.folder)

    def pending(self) -> int:
        """Files waiting in the inbox (for the audit page's health line)."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.iterdir() if p.suffix in (".jsonl", ".claimed"))
