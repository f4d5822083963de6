"""The collaboration guard as a Jupyter server extension: guest checks, origin checks, events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import ensure_async
from tornado.web import HTTPError
from traitlets import Float, Unicode, default

from hds_data_guard.sink import event_logger
from hds_records import addresses
from hds_records.events import Event

from .guests import GuestWatch
from .origin import same_origin_collaboration
from .rooms import guard_rooms, room_file

AWARENESS_SCHEMA = "https://schema.jupyter.org/jupyter_collaboration/awareness/v1"


class CollaborationGuardApp(ExtensionApp):
    """Keep a shared server to its project: guests re-checked, websockets same-origin."""

    name = "hds_collaboration"
    load_other_extensions = True

    recheck_interval = Float(
        2.0,
        help="""Seconds a guest's access may go unchecked with the hub. Guests are everyone
        but the server's owner. Their requests are admitted on an answer at most this old,
        and their open websockets are closed within about this delay once the hub no longer
        lets them in (share revoked, removed from the project).""",
    ).tag(config=True)

    owner = Unicode(help="The server's owner; default $JUPYTERHUB_USER.").tag(config=True)
    project = Unicode(help="The server's project; default $JUPYTERHUB_SERVER_NAME.").tag(
        config=True
    )

    @default("owner")
    def _default_owner(self):
        return os.environ.get("JUPYTERHUB_USER", "")

    @default("project")
    def _default_project(self):
        return os.environ.get("JUPYTERHUB_SERVER_NAME", "")

    watch: GuestWatch | None = None
    _sweeper: asyncio.Task | None = None

    def initialize_settings(self):
        same_origin_collaboration()
        guard_rooms(self.record)
        hub_auth = getattr(self.serverapp.identity_provider, "hub_auth", None)
        if hub_auth is None or not self.owner:
            self.log.warning("hds_collaboration: not under JupyterHub; guests are not checked")
            return
        self.watch = GuestWatch(
            hub_auth, self.owner, self.project, self.recheck_interval, self.log, self.record
        )
        self._guard_identity_provider(self.serverapp.identity_provider)
        self.serverapp.event_logger.add_listener(
            schema_id=AWARENESS_SCHEMA, listener=self._on_awareness
        )

    def _guard_identity_provider(self, provider) -> None:
        """Wrap the (JupyterHub) identity provider's get_user: guests need a fresh verdict.

        JupyterHub's single-user extension forces its own identity provider class, so the
        instance is wrapped rather than replaced.
        """
        original = provider.get_user
        watch = self.watch

        async def get_user(handler):
            user = await ensure_async(original(handler))
            hub_user = getattr(user, "hub_user", None)
            if user is None or hub_user is None or not watch.is_guest(hub_user):
                return user
            reason = await watch.admit(handler, hub_user)
            if reason:
                return refuse(handler, f"{user.username} may not use this server: {reason}")
            return user

        provider.get_user = get_user

    async def _start_jupyter_server_extension(self, serverapp):
        if self.watch is not None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    async def _sweep_forever(self):
        while True:
            await asyncio.sleep(self.recheck_interval / 2)
            try:
                await self.watch.sweep()
            except Exception:
                self.log.exception("hds_collaboration: guest sweep failed")

    async def stop_extension(self):
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def _on_awareness(self, logger, schema_id: str, data: dict[str, Any]) -> None:
        """jupyter-collaboration says who joined or left which document."""
        action = {"join": "document.joined", "leave": "document.left"}.get(data.get("action"))
        if action:
            path = self._room_path(data.get("roomid", ""))
            self.record(action, data.get("username", ""), "allowed", None, target=path)

    def _room_path(self, room: str) -> str:
        found = None
        with contextlib.suppress(Exception):
            found = room_file(self.serverapp.web_app.settings, room)
        return found[1] if found and found[1] else room

    def record(self, action, actor, outcome, handler=None, target=None, **details) -> None:
        """One event, in the hub's audit event shape, as a JSON line in the server log."""
        event = Event(
            action,
            actor=actor,
            outcome=outcome,
            project=self.project or None,
            target=target or f"{self.owner}/{self.project}",
            source=client_address(handler) if handler is not None else None,
            details={"owner": self.owner, **details},
        )
        event_logger().info(json.dumps(event.to_dict(), sort_keys=True))


def client_address(handler) -> str | None:
    """The browser's address, as the data guard takes it (never X-Real-Ip)."""
    guard = handler.settings.get("hds_data_guard")
    if guard is not None:
        return guard.client_address(handler.request)
    return addresses.of_request(
        handler.request,
        own_proxies=addresses.server_proxies(),
        trusted_proxies=addresses.declared_proxies(),
    )


def refuse(handler, message: str) -> None:
    """No user for this request, answered 403 with `message` (as JupyterHub refuses a user).

    Raising from get_user would break Jupyter's error page, which asks for the current user;
    instead the request has no user, and the login redirect that follows becomes the 403.
    """

    def forbidden(*args, **kwargs):
        raise HTTPError(403, message)

    handler.redirect = forbidden
    handler._jupyterhub_user = None
    return None
