"""Moving events from the inbox into the chained record, once each, in the order they arrived."""

from __future__ import annotations

import logging
from typing import Any

from .entry import EVENT_FIELDS
from .inbox import Inbox
from .intake import new_event
from .writer import ChainWriter

log = logging.getLogger("jupyter_hds.audit")
REQUIRED = ("id", "time", "actor", "actor_kind", "action", "outcome", "reported_by")


def well_formed(event: dict[str, Any]) -> bool:
    """Whether an inbox event has the shape the writer chains (the hub checked its content)."""
    if set(event) - set(EVENT_FIELDS):
        return False
    if any(not isinstance(event.get(name), str) or not event[name] for name in REQUIRED):
        return False
    optional = ("project", "target", "source")
    if any(event.get(n) is not None and not isinstance(event[n], str) for n in optional):
        return False
    return isinstance(event.get("details", {}), dict | str)


class Drainer:
    def __init__(self, inbox: Inbox, writer: ChainWriter):
        self.inbox, self.writer = inbox, writer

    def drain(self) -> int:
        """Chain every claimed inbox file; return how many new entries were written.

        Events claimed together (from the hub, the audit service, ...) are chained in the
        order they happened; each file is removed only once its events are written.
        """
        paths = self.inbox.claim()
        good: list[dict[str, Any]] = []
        problems: list[tuple[str, list[str]]] = []
        for path in paths:
            claimed = self.inbox.read(path)
            bad = []
            for event in claimed.events:
                if well_formed(event):
                    good.append(event)
                else:
                    bad.append(repr(event)[:2000])
            if claimed.unreadable or bad:
                log.error(
                    "audit: %d unreadable events in %s",
                    len(bad) + len(claimed.unreadable),
                    path.name,
                )
                problems.append((path.name, claimed.unreadable + bad))
        good.sort(key=lambda event: event["time"])
        written = self.writer.append(good)
        written += self.writer.append([self._unreadable(name, lines) for name, lines in problems])
        for path in paths:
            self.inbox.done(path)
        return len(written)

    @staticmethod
    def _unreadable(name: str, problems: list[str]) -> dict[str, Any]:
        """An entry that keeps what could not be read, so it is not silently lost."""
        return new_event(
            "audit.inbox.unreadable",
            "service:audit",
            "service",
            "failed",
            reported_by="audit",
            target=f"inbox/{name}",
            details={"count": len(problems), "lines": problems[:50]},
        )
