"""Security-relevant events raised by hub-side code; the audit record subscribes to them.

Events have the one shape of the whole platform (`hds_records.events.Event`), and their
actions are those of the catalogue (`hds_records.actions`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from hds_records.actions import OUTCOMES
from hds_records.events import Event

__all__ = ["OUTCOMES", "SERVER_ACTIONS_SCHEMA", "Event", "emit", "subscribe", "unsubscribe"]

log = logging.getLogger("jupyter_hds.events")

# JupyterHub's own events about servers starting and stopping (its EventLogger schema).
SERVER_ACTIONS_SCHEMA = "https://schema.jupyter.org/jupyterhub/events/server-action"

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
    """Record an event: logged as one JSON line, then handed to every subscriber.

    `action` and `outcome` must be in the catalogue (hds_records.actions): ValueError if not.
    """
    event = Event(action=action, actor=actor, outcome=outcome, **fields)
    log.info("audit %s", json.dumps(event.to_dict(), sort_keys=True))
    for listener in list(_listeners):
        listener(event)
    return event
