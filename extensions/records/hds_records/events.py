"""The one event shape: who did what, to which project and target, from where, with what outcome.

Every part of Jupyter HDS builds its events with `Event`: the hub and its services
(`jupyter_hds.events.emit`, the request log, the intake), the data guard and the
collaboration guard in users' servers. The action and its outcome are checked against the
catalogue (`actions`). `to_dict()` is what a user's server sends to the hub's intake;
`to_entry()` adds what the hub knows of the actor and of the reporter, for the audit inbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import actions

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# The fields of a report from a user's server (the data-guard contract with the hub), in order.
REPORT_FIELDS = ("id", "time", "action", "actor", "project", "target", "outcome", "source",
                 "details")  # fmt: skip


def now() -> str:
    """The current time in UTC, as the record writes it (sorts as text)."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """One thing that happened. `actor` is a user name, `service:<name>`, `provider:<issuer>`
    or `anonymous`; `action` and `outcome` are among the catalogue's (`actions.CATALOGUE`).
    """

    action: str
    actor: str
    outcome: str
    project: str | None = None
    target: str | None = None
    source: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=now)
    id: str = field(default_factory=new_id)

    def __post_init__(self):
        actions.check(self.action, self.outcome)
        if not self.actor:
            raise ValueError(f"a {self.action} event needs an actor")
        if not isinstance(self.details, dict):
            raise ValueError(f"a {self.action} event's details must be a dict")

    def to_dict(self) -> dict[str, Any]:
        """The event as a user's server reports it to the hub (JSON-ready)."""
        return {name: getattr(self, name) for name in REPORT_FIELDS}

    def to_entry(self, actor_kind: str, reported_by: str) -> dict[str, Any]:
        """The event as the audit inbox takes it: the report plus the actor's kind and who
        reported it (`hub`, `audit`, `service:<name>`, `server:<user>/<server>`)."""
        return {
            "id": self.id,
            "time": self.time,
            "actor": self.actor,
            "actor_kind": actor_kind,
            "action": self.action,
            "project": self.project,
            "target": self.target,
            "outcome": self.outcome,
            "source": self.source,
            "reported_by": reported_by,
            "details": self.details,
        }
