"""Events waiting to be chained: JSON lines any process appends; the audit service drains them.

Writers append whole lines under an exclusive lock and fsync before returning, so an event
handed to `put` survives a crash of the hub or of the audit service. The service claims a
file by renaming it, waits for that file's lock (a writer may still be finishing), reads it,
chains its events and deletes it; a crash in between only causes a replay, which the writer
recognises by event id.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .segments import fsync_dir

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
        if not events:
            return
        data = b"".join(
            (json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            for e in events
        )
        path = self.folder / f"{source}.jsonl"
        for _ in range(20):
            if self._append(path, data):
                return
        raise OSError(f"could not append to {path}: it keeps being claimed")

    def _append(self, path: Path, data: bytes) -> bool:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:  # the first event ever, or the folder was removed
            self.folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.folder.mkdir(exist_ok=True, mode=0o700)
            fd = os.open(path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    return False  # claimed between open and lock: write to the new file
            except FileNotFoundError:
                return False
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            return True
        finally:
            os.close(fd)

    def claim(self) -> list[Path]:
        """Take every inbox file for draining; older claims (a crashed drain) come first."""
        if not self.folder.is_dir():
            return []
        for path in sorted(self.folder.glob("*.jsonl")):
            path.rename(path.with_name(f"{path.stem}.{time.time_ns():020d}.claimed"))
        return sorted(self.folder.glob("*.claimed"), key=lambda p: p.name.split(".")[1])

    def read(self, path: Path) -> Claimed:
        """Events of a claimed file, once any writer still holding it has finished."""
        claimed = Claimed(path)
        with path.open("rb") as stream:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
            data = stream.read()
        for line in data.splitlines(keepends=True):
            try:
                event = json.loads(line)
                if not line.endswith(b"\n") or not isinstance(event, dict):
                    raise ValueError
                claimed.events.append(event)
            except ValueError:
                claimed.unreadable.append(line.decode(errors="replace")[:2000])
        return claimed

    def done(self, path: Path) -> None:
        path.unlink()
        fsync_dir(self.folder)

    def pending(self) -> int:
        """Files waiting in the inbox (for the audit page's health line)."""
        if not self.folder.is_dir():
            return 0
        return sum(1 for p in self.folder.iterdir() if p.suffix in (".jsonl", ".claimed"))
