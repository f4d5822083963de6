"""A copy on disk of the events the hub has not accepted yet, for a server started after a crash.

The server keeps its undelivered events in its own memory (`sink.AuditSink`), out of reach
of the researcher's code, and delivers them from there. This file is only their durable
copy: appended (`hds_records.journal`: whole lines, fsync, regular files only) while the hub
is unreachable, removed once everything is delivered, and read back when a server starts.
The folder is writable by the researcher's code (same uid): what it holds is never trusted
over the server's memory, and what cannot be written there makes guarded reads refuse.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hds_records import journal

log = logging.getLogger(__name__)


class EventSpool:
    """Events not yet accepted by the hub, appended in order; `<path>.rejected` beside it
    keeps those the hub refused for good, and lines that could not be read."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.name + ".rejected")

    def append(self, events: list[dict[str, Any]]) -> None:
        """Write `events` durably, or raise OSError (journal.NotRegularFile, a full disk)."""
        journal.append(self.path, [journal.encode(e, sort_keys=True) for e in events])

    def reject(self, events: list[dict[str, Any]], reason: str) -> None:
        """Keep events the hub refused for good, with its reason (best effort)."""
        lines = [journal.encode({**e, "rejected": reason}, sort_keys=True) for e in events]
        self._keep_aside(lines)

    def load(self) -> list[dict[str, Any]]:
        """The events a previous server left (unreadable lines go to the rejected file)."""
        try:
            events, unreadable = journal.read(self.path).records()
        except OSError as error:
            log.error("data guard: cannot read the spool %s: %s", self.path, error)
            return []
        unreadable += [journal.encode(e, sort_keys=True)[:-1] for e in events if not e.get("id")]
        if unreadable:
            log.error("data guard: %d unreadable line(s) in %s moved to %s",
                      len(unreadable), self.path, self.rejected_path)  # fmt: skip
            self._keep_aside([line + b"\n" for line in unreadable])
        return [e for e in events if e.get("id")]

    def clear(self) -> None:
        """Everything was delivered: remove the copy (only a regular file of that name)."""
        try:
            if self.path.is_file() and not self.path.is_symlink():
                self.path.unlink()
        except OSError as error:
            log.error("data guard: cannot remove the delivered spool %s: %s", self.path, error)

    def _keep_aside(self, lines: list[bytes]) -> None:
        try:
            journal.append(self.rejected_path, lines)
        except OSError as error:
            log.error("data guard: cannot keep rejected events in %s: %s",
                      self.rejected_path, error)  # fmt: skip
