"""Guests of a shared server: re-checked with the hub, cut off as soon as their access ends.

A guest is anyone but the server's owner (and hub services). JupyterHub's single-user
auth caches the hub's answer about a token for five minutes, and an open websocket is
never re-checked at all: a guest removed from the project (or whose share was revoked)
would keep editing and running code. Here every guest request is admitted only on a
verdict at most `interval` seconds old, asked of the hub without cache, and a sweep closes
the websockets of guests whose verdict turned to a refusal.

A guest stays only while the hub (1) still accepts their token, (2) still grants it access
to this server, and (3) still lists them in this server's project group.
"""

from __future__ import annotations

import hashlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornado.websocket import WebSocketHandler

CheckScopes = Callable[[set[str], dict[str, Any]], Any]
# Close code sent to a guest's websockets when their access ends (RFC 6455: policy violation).
POLICY_VIOLATION = 1008


def refusal(
    model: dict[str, Any] | None, access_scopes: set[str], project: str, check_scopes: CheckScopes
) -> str | None:
    """Why the hub's answer `model` about a guest's token no longer lets them in, or None."""
    if not model:
        return "the hub no longer accepts their login"
    if not check_scopes(access_scopes, model):
        return "this server is no longer shared with them"
    if project and project not in (model.get("groups") or []):
        return f"they are no longer a member of project {project}"
    return None


@dataclass
class Guest:
    """One guest login (token) seen by this server."""

    name: str
    token: str = field(repr=False)
    session_id: str = field(repr=False, default="")
    websockets: weakref.WeakSet = field(default_factory=weakref.WeakSet, repr=False)
    checked: float = float("-inf")  # monotonic time of the last answer from the hub
    verdict: str | None = "not checked yet"  # None: may stay; else why not
    last_seen: float = field(default_factory=time.monotonic)
    announced: bool = False

    def open_websockets(self) -> list[WebSocketHandler]:
        return [ws for ws in list(self.websockets) if _is_open(ws)]


def _is_open(ws: WebSocketHandler) -> bool:
    connection = ws.ws_connection
    return connection is not None and not connection.is_closing()


class GuestWatch:
    """Admit guests on a fresh verdict; close their websockets when it turns to a refusal."""

    def __init__(
        self,
        hub_auth,
        owner: str,
        project: str,
        interval: float,
        log: logging.Logger,
        record: Callable[..., None],
        forget_after: float = 3600,
    ):
        self.hub_auth, self.owner, self.project = hub_auth, owner, project
        self.interval, self.forget_after = interval, forget_after
        self.log, self.record = log, record
        self.guests: dict[str, Guest] = {}

    def is_guest(self, hub_user: dict[str, Any]) -> bool:
        return hub_user.get("kind", "user") == "user" and hub_user.get("name") != self.owner

    async def admit(self, handler, hub_user: dict[str, Any]) -> str | None:
        """None if the guest behind `handler` may proceed, else why not."""
        token = self.hub_auth.get_token(handler)
        if not token:
            return "no login token"
        key = hashlib.sha256(token.encode()).hexdigest()
        guest = self.guests.get(key)
        if guest is None or guest.name != hub_user["name"]:
            guest = self.guests[key] = Guest(
                hub_user["name"], token, self.hub_auth.get_session_id(handler)
            )
        guest.last_seen = time.monotonic()
        if time.monotonic() - guest.checked >= self.interval:
            await self.check(guest)
        if guest.verdict is None and isinstance(handler, WebSocketHandler):
            guest.websockets.add(handler)
        if guest.verdict is None and not guest.announced:
            guest.announced = True
            self.record("collaboration.guest.admitted", guest.name, "allowed", handler)
        return guest.verdict

    async def check(self, guest: Guest) -> None:
        """Ask the hub about `guest`'s token, bypassing the single-user auth cache."""
        try:
            model = await self.hub_auth.user_for_token(
                guest.token, use_cache=False, session_id=guest.session_id, sync=False
            )
        except Exception as error:
            # A hub restart must not throw everyone out; a login never checked stays out.
            self.log.warning("cannot check guest %s with the hub: %s", guest.name, error)
            if guest.checked == float("-inf"):
                guest.verdict = "the hub could not confirm their access"
            return
        guest.checked = time.monotonic()
        guest.verdict = refusal(
            model, set(self.hub_auth.access_scopes), self.project, self.hub_auth.check_scopes
        )

    async def sweep(self) -> None:
        """Re-check guests with open websockets; close those refused; forget idle ones."""
        now = time.monotonic()
        for key, guest in list(self.guests.items()):
            sockets = guest.open_websockets()
            if not sockets:
                if now - guest.last_seen > self.forget_after:
                    del self.guests[key]
                continue
            if now - guest.checked >= self.interval:
                await self.check(guest)
            if guest.verdict is not None:
                self.cut_off(guest, sockets)

    def cut_off(self, guest: Guest, sockets: list[WebSocketHandler]) -> None:
        reason = f"access to this server ended: {guest.verdict}"
        for ws in sockets:
            ws.close(POLICY_VIOLATION, reason[:120])
        guest.websockets = weakref.WeakSet()
        guest.announced = False
        self.log.warning("closed %d connection(s) of %s: %s", len(sockets), guest.name, reason)
        self.record("collaboration.guest.cut_off", guest.name, "refused", None, reason=reason)
