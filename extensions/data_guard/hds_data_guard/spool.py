"""Events the hub has not accepted yet, oldest first, in a JSON-lines file that outlives the hub."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
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
        """The oldest `limit` events; unreadable lines among them move to the rejected file.

        Reads only as far as the batch goes, unless unreadable lines make the file be
        rewritten without them: the batch is then the first lines of the file again.
        """
        try:
            f = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return []
        events: list[dict[str, Any]] = []
        good: list[str] = []
        bad: list[str] = []
        rest: list[str] = []
        with f:
            for line in f:
                if len(events) == limit:
                    if bad:
                        rest = [line, *f]
                    break
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                event = _parse(line)
                if event is None:
                    bad.append(line)
                else:
                    events.append(event)
                    good.append(line)
        if bad:
            log.error("data guard: %d unreadable line(s) in %s moved to %s",
                      len(bad), self.path, self.rejected_path)  # fmt: skip
            self._append_lines(self.rejected_path, bad)
            self._rewrite(good + [line.rstrip("\n") for line in rest if line.strip()])
        return events

    def drop_head(
        self, count: int, rejected: Sequence[dict[str, Any]] = (), reason: str = ""
    ) -> None:
        """Take the oldest `count` events out of the queue: a batch the hub has answered.

        Those of them the hub refused for good (`rejected`) are written to the rejected
        file first, with the hub's `reason`; then the queue is rewritten once.
        """
        if rejected:
            lines = [json.dumps({**e, "rejected": reason}, sort_keys=True) for e in rejected]
            self._append_lines(self.rejected_path, lines)
        if count > 0:
            self._rewrite(self._lines()[count:])

    def __len__(self) -> int:
        return len(self._lines())

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        # Lines end at "\n" only, as when head() reads the file line by line.
        return [line for line in text.split("\n") if line.strip()]

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


def _parse(line: str) -> dict[str, Any] | None:
    """The event on `line`, or None when it is not one (not JSON, or no id)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and event.get("id") else None
