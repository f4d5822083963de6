"""The audit subsystem in the hub's config: what feeds the record, and who reads it."""

from __future__ import annotations

import sys

from traitlets.config import Config

from hds_records.addresses import TRUSTED_PROXIES_ENV

from ..deployment import Deployment
from ..hubconfig import service_url, set_handlers, set_roles, set_scopes, set_services
from ..services import service_environment
from . import service
from .handlers import AuditEventsHandler
from .hub import HubAudit, HubEvents
from .pages import READ_SCOPE
from .requestlog import audit_request_log

SERVICE = "audit"
AUDITORS = "auditors"
EVENTS_PATH = r"/api/hds/audit/events"


def missing_hooks(app) -> list[str]:
    """The hub settings the audit needs that a later config fragment replaced."""
    missing = []
    if app.tornado_settings.get("log_function") is not audit_request_log:
        missing.append("c.JupyterHub.tornado_settings['log_function'] (admin changes)")
    eventlog = getattr(app, "eventlog", None)
    handlers = eventlog.handlers if eventlog is not None else []
    if not any(isinstance(h, HubEvents) for h in handlers or []):
        missing.append("c.EventLogger.handlers (server starts and stops)")
    if not any(h[1] is AuditEventsHandler for h in app.extra_handlers):
        missing.append("c.JupyterHub.extra_handlers (reports from users' servers)")
    return missing


def configure(c: Config, deployment: Deployment) -> None:
    # The hub drops every event in the record's inbox: its request log (admin changes), its
    # event logger (server starts and stops), the reports of users' servers; the audit
    # service chains them into the record and serves the read-only page to auditors.
    current = c.JupyterHub.get("tornado_settings")
    c.JupyterHub.tornado_settings = {
        **(current if isinstance(current, dict) else {}),
        "log_function": audit_request_log,
    }
    c.EventLogger.handlers = [HubEvents()]
    # Users' servers take the browser's address through the same proxies as the hub does.
    environment = c.Spawner.get("environment")
    c.Spawner.environment = {
        **(environment if isinstance(environment, dict) else {}),
        TRUSTED_PROXIES_ENV: ",".join(deployment.trusted_proxies),
    }
    HubAudit.hook_check = missing_hooks  # checked when the hub records its first event
    set_handlers(c, [(EVENTS_PATH, AuditEventsHandler)])
    set_scopes(c, {READ_SCOPE: {"description": "Read, filter and export the audit record."}})
    set_roles(
        c,
        {
            "name": "auditor",
            "description": "Reads and exports the audit record; changes nothing.",
            "scopes": [READ_SCOPE, f"access:services!service={SERVICE}"],
            "groups": [AUDITORS],
        },
    )
    set_services(
        c,
        {
            "name": SERVICE,
            "display": True,
            "url": service_url(deployment.port(SERVICE, service.PORT)),
            "command": [sys.executable, "-m", "jupyter_hds.audit.service"],
            "environment": service_environment(deployment),
            "oauth_client_allowed_scopes": [READ_SCOPE],
            "oauth_no_confirm": True,
            "info": {"description": "Audit record (auditors only)"},
        },
    )
