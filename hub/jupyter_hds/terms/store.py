"""Who accepted which version of the terms of use: one JSON file in the hub's state folder.

Where acceptances live, and why here: the hub's database belongs to JupyterHub (its `orm.User`
has no place for them, and its schema is migrated by JupyterHub alone); the audit record
holds every acceptance as a `terms.accepted` event, but it is written asynchronously and
read through its own service, so a start just after an acceptance could miss it. This file
keeps each person's latest acceptance (version, sha256 of the file, time), is written
atomically (a temporary file renamed over it) by the hub process alone, and is backed up
with the rest of the state folder; the history stays in the audit record.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Acceptance:
    """`user` accepted the terms' `version`, whose file had this `sha256`, at `time` (UTC)."""

    user: str
    version: str
    sha256: str
    time: str


class Acceptances:
    """The acceptances file: read when it changed, rewritten whole on each acceptance."""

    _locks: dict[str, threading.Lock] = {}

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._cache: tuple[tuple[int, int], dict[str, Acceptance]] | None = None

    @property
    def _lock(self) -> threading.Lock:
        return self._locks.setdefault(str(self.path), threading.Lock())

    def all(self) -> dict[str, Acceptance]:
        """Every person's latest acceptance, by user name."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != key:
            records = json.loads(self.path.read_text(encoding="utf-8"))
            self._cache = (key, {user: Acceptance(user=user, **record)
                                 for user, record in records.items()})  # fmt: skip
        return self._cache[1]

    def of(self, user: str) -> Acceptance | None:
        return self.all().get(user)

    def has_accepted(self, user: str, version: str) -> bool:
        accepted = self.of(user)
        return accepted is not None and accepted.version == version

    def accept(self, user: str, version: str, sha256: str) -> Acceptance:
        """Record that `user` accepts `version` now; the file is replaced atomically."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        acceptance = Acceptance(user, version, sha256, now)
        with self._lock:
            records = {name: _record(a) for name, a in self.all().items()}
            records[user] = _record(acceptance)
            self._write(records)
        return acceptance

    def _write(self, records: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(records, stream, indent=1, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, self.path)


def _record(acceptance: Acceptance) -> dict[str, str]:
    record = asdict(acceptance)
    del record["user"]
    return record
