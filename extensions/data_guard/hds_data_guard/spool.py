"""Events the hub has not accepted yet, oldest first, in a JSON-lines file that outlives the hub."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EventSpool:
    """A first-in, first-out queue of events on disk.

    Every event is appended (and synced) before anyone tries to send it, so an event is
    on disk from the moment it is recorded until the hub has accepted it. Lines that do
    not parse, and events the hub refuses for good, move to `<path>.rejected`: they
    leave the queue so they do not block it, and are never silently dropped.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.name + ".rejected")

    def append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._append_lines(self.path, [json.dumps(event, sort_keys=True)])

    def head(self, limit: int) -> list[dict[str, Any]]:
        """The oldest `limit` events; unreadable lines are moved to the rejected file first."""
        lines = self._lines()
        events, bad = [], []
        for line in lines:
            try:
                event = json.loads(line)
                if not isinstance(event, dict) or not event.get("id"):
                    raise ValueError("not an event with an id")
            except ValueError:
                bad.append(line)
                continue
            events.append(event)
        if bad:
            log.error("data guard: %d unreadable line(s) in %s moved to %s",
                      len(bad), self.path, self.rejected_path)  # fmt: skip
            self._append_lines(self.rejected_path, bad)
            self._rewrite([json.dumps(e, sort_keys=True) for e in events])
        return events[:limit]

    def remove(self, ids: set[str]) -> None:
        """Drop the events whose id is in `ids` (the hub has them)."""
        if not ids:
            return
        kept = [line for line in self._lines() if _event_id(line) not in ids]
        self._rewrite(kept)

    def reject(self, events: list[dict[str, Any]], reason: str) -> None:
        """Move `events` out of the queue into the rejected file, with the hub's reason."""
        lines = [json.dumps({**e, "rejected": reason}, sort_keys=True) for e in events]
        self._append_lines(self.rejected_path, lines)
        self.remove({e["id"] for e in events})

    def __len__(self) -> int:
        return len(self._lines())

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip()]

    def _rewrite(self, lines: list[str]) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.path)

    @staticmethod
    def _append_lines(path: Path, lines: list[str]) -> None:
        with path.open("a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())


def _event_id(line: str) -> str | None:
    try:
        return json.loads(line).get("id")
    except (ValueError, AttributeError):
        return None
