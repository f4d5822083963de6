"""What may enter the record: events checked and put in the one shape the writer chains."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from hds_records import actions
from hds_records.events import REPORT_FIELDS, Event

from .entry import ACTOR_KINDS, actor_kind, canonical_details, normalize_time
from .serials import BadNumber, number_of

EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_EVENTS_PER_REQUEST = 500
MAX_TEXT = 4096
MAX_DETAILS = 16384


class EventRefused(ValueError):
    """An event that must not be recorded as sent; `status` is the HTTP answer to give."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def from_hub(
    event: Event, is_admin: Callable[[str], bool] = lambda name: False, reported_by: str = "hub"
) -> dict[str, Any]:
    """An event raised in the hub or one of its services (jupyter_hds.events), for the inbox."""
    entry = event.to_entry(actor_kind(event.actor, is_admin(event.actor)), reported_by)
    entry["time"] = normalize_time(event.time, assume_utc=True)
    return entry


def new_event(action: str, actor: str, kind: str, outcome: str, **fields: Any) -> dict[str, Any]:
    """An inbox entry for an event built where the actor's kind is known (request log, server
    actions, the audit service itself): `Event(...)`, reported by `hub` unless `reported_by`."""
    if kind not in ACTOR_KINDS:
        raise ValueError(f"actor kind {kind!r} is not one of {', '.join(ACTOR_KINDS)}")
    reported_by = fields.pop("reported_by", None) or "hub"
    if fields.get("time") is None:
        fields.pop("time", None)
    if fields.get("details") is None:
        fields.pop("details", None)
    return Event(action, actor=actor, outcome=outcome, **fields).to_entry(kind, reported_by)


def from_server(
    raw: Any, owner: str, server: str, may_act: Callable[[str], bool]
) -> dict[str, Any]:
    """A user's server's report, checked against the contract and against who sent it.

    `owner`/`server` come from the server's own token, never from the event; `may_act(name)`
    says whether user `name` may use that server (its owner, a share, an admin).
    """
    if not isinstance(raw, dict):
        raise EventRefused(400, "each event must be a JSON object")
    unknown = sorted(set(raw) - set(REPORT_FIELDS))
    if unknown:
        raise EventRefused(400, f"unknown fields {', '.join(unknown)}")
    event_id = _text(raw, "id")
    if not EVENT_ID.match(event_id):
        raise EventRefused(400, f"id {event_id!r} must be 32 lowercase hex digits (uuid4().hex)")
    action, outcome = _text(raw, "action"), _text(raw, "outcome")
    try:
        catalogued = actions.check(action, outcome)
    except actions.UnknownAction as error:
        raise EventRefused(400, str(error)) from None
    if catalogued.reporter != actions.SERVER:
        raise EventRefused(
            403, f"{action} is reported by the {catalogued.reporter}, not by a user's server"
        )
    try:
        time = normalize_time(_text(raw, "time"))
    except ValueError as error:
        raise EventRefused(400, str(error)) from None
    actor, project = _text(raw, "actor"), _text(raw, "project")
    if project != server:
        raise EventRefused(
            403, f"event {event_id} claims project {project!r}; this server is {owner}/{server}"
        )
    if actor != owner and not may_act(actor):
        raise EventRefused(
            403, f"event {event_id} claims user {actor!r}, who may not use {owner}/{server}"
        )
    event = Event(
        action,
        actor=actor,
        outcome=outcome,
        project=project,
        target=_optional_text(raw, "target"),
        source=_address(raw.get("source")),
        details=_details(raw.get("details")),
        time=time,
        id=event_id,
    )
    return event.to_entry("user", f"server:{owner}/{server}")


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise EventRefused(400, f"field {name!r} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise EventRefused(400, f"field {name!r} is longer than {MAX_TEXT} characters")
    return value


def _optional_text(raw: dict[str, Any], name: str) -> str | None:
    return None if raw.get(name) is None else _text(raw, name)


def _address(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise EventRefused(400, f"source {value!r} must be an IP address or null") from None


def _details(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventRefused(400, "details must be a JSON object")
    if len(canonical_details(value)) > MAX_DETAILS:
        raise EventRefused(400, f"details are larger than {MAX_DETAILS} characters")
    try:
        number_of(value)
    except BadNumber as error:
        raise EventRefused(400, str(error)) from None
    return value
