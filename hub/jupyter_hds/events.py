"""Security-relevant events raised by hub-side code; the audit record subscribes to them."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("jupyter_hds.events")

OUTCOMES = ("allowed", "refused", "failed", "succeeded")
# JupyterHub's own events about servers starting and stopping (its EventLogger schema).
SERVER_ACTIONS_SCHEMA = "https://schema.jupyter.org/jupyterhub/events/server-action"


@dataclass(frozen=True)
class Event:
    """One thing that happened: who did what, to which project and target, with what outcome.

    `actor` is a user name, `service:<name>`, or `anonymous`. `action` is dotted and
    stable (`login.failed`, `server.start`, `download.blocked`, ...): auditors filter on it.
    """

    action: str
    actor: str
    outcome: str
    project: str | None = None
    target: str | None = None
    source: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if not self.action or not self.actor:
            raise ValueError("an event needs an action and an actor")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Have `listener` called with every event from now on (the audit record does this)."""
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(action: str, *, actor: str, outcome: str, **fields: Any) -> Event:
    """Record an event: logged as one JSON line, then handed to every subscriber."""
    event = Event(action=action, actor=actor, outcome=outcome, **fields)
    log.info("audit %s", json.dumps(event.to_dict(), sort_keys=True))
    for listener in list(_listeners):
        listener(event)
    return event
