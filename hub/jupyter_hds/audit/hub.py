"""The hub process's side of the audit record: everything it sees goes to the inbox, durably.

The hub config creates `HubEvents` as a handler of JupyterHub's event logger
(c.EventLogger.handlers): it receives JupyterHub's own server start/stop events, and on
creation subscribes to `jupyter_hds.events`, so events emitted anywhere in the hub (logins,
refusals, quotas) reach the record. Nothing is subscribed in a process that did not ask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hds_records import addresses

from .. import events
from ..deployment import Deployment
from .inbox import Inbox
from .intake import from_hub, new_event
from .limits import AuditIntake, IntakeLimits
from .serials import Streams

log = logging.getLogger("jupyter_hds.audit")

MAX_BACKLOG = 100_000


class HubAudit:
    """Puts the hub's events in the inbox; keeps them in memory while the disk refuses them.

    Also holds what the hub's intake of servers' reports remembers between requests: each
    server's limits (`limits`) and the numbers of its reports (`streams`).
    """

    _instance: HubAudit | None = None
    # Set by `audit.config`: which of the hub settings the record needs are missing.
    hook_check: Callable[[Any], list[str]] | None = None

    def __init__(
        self,
        directory: Path | str,
        is_admin: Callable[[str], bool] = lambda n: False,
        trusted_proxies: Sequence[addresses.Network] = (),
        limits: IntakeLimits | None = None,
    ):
        self.inbox = Inbox(directory)
        self.is_admin = is_admin
        self.trusted_proxies = tuple(trusted_proxies)
        self.limits = limits or AuditIntake().limits()
        self.streams = Streams()
        self._backlog: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # record() runs on the hub's loop and in the intake's thread

    @classmethod
    def instance(cls) -> HubAudit:
        """The hub's sink, configured from the running JupyterHub's config."""
        if cls._instance is None:
            from jupyterhub.app import JupyterHub

            app = JupyterHub.instance() if JupyterHub.initialized() else None
            deployment = Deployment(parent=app) if app else Deployment()
            cls._instance = cls(
                deployment.audit,
                _admin_check(app),
                deployment.trusted_networks,
                AuditIntake(parent=app).limits() if app else None,
            )
            if app is not None:
                cls._instance.report_missing_hooks(app)
        return cls._instance

    def client_address(self, request) -> str | None:
        """The address a request came from: the hub's own proxy (on loopback) and the
        operator's trusted proxies are looked through; X-Real-Ip is never read."""
        return addresses.of_request(
            request, own_proxies=addresses.LOOPBACK, trusted_proxies=self.trusted_proxies
        )

    def report_missing_hooks(self, app) -> None:
        """Say loudly, in the log and in the record, if a config fragment unplugged the audit."""
        check = type(self).hook_check
        missing = check(app) if check is not None else []
        if missing:
            log.error("audit: not connected to %s; see docs/audit.md", ", ".join(missing))
            self.record(
                [
                    new_event(
                        "audit.misconfigured",
                        "service:jupyterhub",
                        "service",
                        "failed",
                        details={"missing": missing},
                    )
                ]
            )

    def record(self, entries: list[dict[str, Any]]) -> None:
        """Hand events to the inbox; on a disk error keep them and retry with the next ones."""
        with self._lock:
            pending = self._backlog + entries
            try:
                self.inbox.put(pending)
            except OSError as error:
                if len(pending) > MAX_BACKLOG:
                    log.critical(
                        "audit: inbox unwritable, dropping %d events", len(pending) - MAX_BACKLOG
                    )
                self._backlog = pending[-MAX_BACKLOG:]
                log.error(
                    "audit: inbox unwritable (%s); %d events kept in memory",
                    error,
                    len(self._backlog),
                )
            else:
                self._backlog = []

    def record_durably(self, entries: list[dict[str, Any]]) -> None:
        """Hand events to the inbox or raise OSError: for senders that can retry."""
        self.inbox.put(entries)


def client_address(request) -> str | None:
    """The address a hub request came from, for an event's `source` (never X-Real-Ip)."""
    return HubAudit.instance().client_address(request)


# Holding any of these unfiltered makes an actor an `admin` in the record: JupyterHub's admins
# and the hosting team's role alike.
ADMIN_SCOPES = frozenset({"admin-ui", "admin:users", "admin:groups", "admin:servers"})


def is_admin_user(orm_user) -> bool:
    """Whether a hub user administers the hub (admin flag, or an admin scope from a role)."""
    from jupyterhub import scopes

    return bool(orm_user.admin or ADMIN_SCOPES & scopes.get_scopes_for(orm_user))


def _admin_check(app) -> Callable[[str], bool]:
    if app is None:
        return lambda name: False

    def is_admin(name: str) -> bool:
        from jupyterhub import orm

        user = orm.User.find(app.db, name)
        return user is not None and is_admin_user(user)

    return is_admin


class HubEvents(logging.Handler):
    """The hub's events into the record: `jupyter_hds.events`, and JupyterHub's `server-actions`.

    JupyterHub calls `emit` with its event logger's records; a server that started or
    stopped becomes `server.started` / `server.stopped`, by `service:jupyterhub`.
    """

    ACTIONS = {"start": "server.started", "stop": "server.stopped"}

    def __init__(self):
        super().__init__()
        events.subscribe(self.on_event)

    def close(self) -> None:
        events.unsubscribe(self.on_event)
        super().close()

    @staticmethod
    def on_event(event: events.Event) -> None:
        try:
            sink = HubAudit.instance()
            sink.record([from_hub(event, sink.is_admin)])
        except Exception:
            log.exception("audit: could not record %s", event.to_dict())

    def emit(self, record: logging.LogRecord) -> None:
        data = record.msg if isinstance(record.msg, dict) else {}
        action = self.ACTIONS.get(data.get("action", ""))
        if data.get("__schema__") != events.SERVER_ACTIONS_SCHEMA or action is None:
            return
        user, server = data.get("username", ""), data.get("servername", "")
        event = new_event(
            action,
            "service:jupyterhub",
            "service",
            "succeeded",
            project=server or None,
            target=f"{user}/{server}",
        )
        HubAudit.instance().record([event])
