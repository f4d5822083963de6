"""Every change made through the hub's REST API or pages, read off Tornado's request log.

`audit_request_log` replaces Tornado's `log_function` (c.JupyterHub.tornado_settings): it
calls JupyterHub's own `log_request`, then turns the request into an audit event: who (the
token's or cookie's user or service), what (the route), on which project, with what outcome.
The admin panel calls the same REST API, so its changes are caught here too.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlparse

from jupyterhub.log import log_request

from .entry import actor_kind, canonical_details, format_time
from .hub import ADMIN_SCOPES, HubAudit
from .intake import new_event

log = logging.getLogger("jupyter_hds.audit")

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = {401, 403}
MAX_BODY = 8192
SECRET_KEYS = re.compile(r"pass|secret|token$|^token|auth_state|api_key", re.I)
USER, SERVER, GROUP = r"(?P<user>[^/]+)", r"(?P<server>[^/]*)", r"(?P<group>[^/]+)"

# (methods, path under /hub/, action); first match wins. Bodies of these routes are recorded.
ROUTES: list[tuple[set[str], re.Pattern[str], str]] = [
    (set(m.split()), re.compile(p + "$"), a)
    for m, p, a in [
        ("POST", r"api/users", "user.create"),
        ("POST", rf"api/users/{USER}", "user.create"),
        ("PATCH", rf"api/users/{USER}", "user.modify"),
        ("DELETE", rf"api/users/{USER}", "user.delete"),
        ("POST", rf"api/users/{USER}/server(?P<server>)", "server.start"),
        ("DELETE", rf"api/users/{USER}/server(?P<server>)", "server.stop"),
        ("POST", rf"api/users/{USER}/servers/{SERVER}", "server.start"),
        ("DELETE", rf"api/users/{USER}/servers/{SERVER}", "server.stop"),
        ("POST", rf"api/users/{USER}/tokens", "token.create"),
        ("DELETE", rf"api/users/{USER}/tokens/(?P<token>[^/]*)", "token.revoke"),
        ("POST", rf"api/users/{USER}/admin-access", "user.admin-access"),
        ("POST", r"api/groups", "group.create"),
        ("POST", rf"api/groups/{GROUP}", "group.create"),
        ("DELETE", rf"api/groups/{GROUP}", "group.delete"),
        ("POST", rf"api/groups/{GROUP}/users", "group.members.add"),
        ("DELETE", rf"api/groups/{GROUP}/users", "group.members.remove"),
        ("PUT", rf"api/groups/{GROUP}/properties", "group.properties"),
        ("PUT", rf"api/hds/users/{USER}", "user.create"),
        ("POST", rf"api/shares/{USER}/{SERVER}", "share.grant"),
        ("PATCH", rf"api/shares/{USER}/{SERVER}", "share.revoke"),
        ("DELETE", rf"api/shares/{USER}/{SERVER}", "share.revoke-all"),
        ("POST", rf"api/share-codes/{USER}/{SERVER}", "share-code.create"),
        ("DELETE", rf"api/share-codes/{USER}/{SERVER}", "share-code.revoke"),
        ("DELETE", rf"api/users/(?P<member>[^/]+)/shared/{USER}/{SERVER}", "share.leave"),
        ("DELETE", rf"api/groups/{GROUP}/shared/{USER}/{SERVER}", "share.leave"),
        ("POST", r"api/proxy", "proxy.sync"),
        ("PATCH", r"api/proxy", "proxy.update"),
        ("POST", r"api/shutdown", "hub.shutdown"),
        ("POST", r"accept-share", "share.accept"),
        ("GET POST", rf"spawn(?:/{USER}(?:/{SERVER})?)?", "server.start"),
        # GET lets an owner straight in; a guest of a shared server confirms with a POST.
        ("GET POST", r"api/oauth2/authorize", "open"),
    ]
]
# Mutating requests that are not changes an auditor needs, or are recorded elsewhere.
SKIPPED = re.compile(
    r"^(api/users/[^/]+/activity|api/oauth2/token|api/hds/audit/events|login|logout)$"
)
# The routes above that GET (and POST) reach: the only reads describe() can record when allowed.
READ_ROUTES = [(m - MUTATING, pattern) for m, pattern, _ in ROUTES if m - MUTATING]
SERVER_CLIENT = re.compile(r"/user/(?P<user>[^/]+)/(?:(?P<server>[^/]+)/)?oauth_callback$")


@dataclass(frozen=True)
class Request:
    """What the request log knows about one finished request."""

    method: str
    path: str  # under the hub's base URL, without the leading /hub/
    status: int
    actor: str = "anonymous"
    actor_kind: str = "anonymous"
    source: str | None = None
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)
    location: str = ""
    reason: str = ""
    started: str | None = None  # when the request came in (the event's time)


def outcome(status: int) -> str:
    if status < 400:
        return "succeeded"
    return "refused" if status in REFUSED else "failed"


def might_record(method: str, path: str, status: int) -> bool:
    """Whether describe() could record this request: cheap, asked before reading who sent it."""
    if method in MUTATING or status in REFUSED:
        return True
    return any(method in methods and pattern.match(path) for methods, pattern in READ_ROUTES)


def describe(request: Request) -> dict[str, Any] | None:
    """The audit event for a request, or None when it changes nothing worth recording."""
    for methods, pattern, action in ROUTES:
        match = pattern.match(request.path)
        if match and request.method in methods:
            if action == "open":
                return _opened(request)
            if request.path.startswith("spawn"):
                return _spawned(request, match)
            return _changed(request, action, match.groupdict())
    if SKIPPED.match(request.path):
        return None
    refused = request.status in REFUSED and request.actor_kind != "anonymous"
    if request.method in MUTATING or refused:
        # A change by any route, and a refusal of a logged-in person, whatever the method (an
        # auditor opening the admin panel). An anonymous refusal is a login redirect or a bad token.
        return _event(request, f"api.{request.method.lower()}", target=f"/hub/{request.path}")
    return None


def _changed(request: Request, action: str, names: dict[str, str | None]) -> dict[str, Any]:
    user, server, group = (_unquoted(names, key) for key in ("user", "server", "group"))
    details = _body(request.body)
    for key, field_name in (("token", "token_id"), ("member", "member")):
        if names.get(key):
            details[field_name] = _unquoted(names, key)
    if group is not None:
        return _event(request, action, target=group, project=group, details=details)
    if server is not None:
        return _event(
            request, action, target=f"{user}/{server}", project=server or None, details=details
        )
    target = user
    if target is None and isinstance(details.get("body"), dict):
        target = (
            ",".join(
                map(str, details["body"].get("usernames") or details["body"].get("groups") or [])
            )
            or None
        )
    return _event(request, action, target=target, details=details)


def _unquoted(names: dict[str, str | None], key: str) -> str | None:
    value = names.get(key)
    return None if value is None else unquote(value)


def _spawned(request: Request, match: re.Match[str]) -> dict[str, Any] | None:
    """The spawn page starts a server when it sends the browser to the pending page."""
    if request.status < 400 and "/spawn-pending/" not in request.location:
        return None
    user = unquote(match.group("user") or request.actor)
    server = unquote(match.group("server") or "")
    return _event(request, "server.start", target=f"{user}/{server}", project=server or None)


def _opened(request: Request) -> dict[str, Any] | None:
    """OAuth authorisation of a user's server or a service: someone opened it."""
    if request.actor_kind == "anonymous" or request.status in (200, 304):
        return None  # not logged in yet (sent to the login page), or a confirmation page
    client = request.query.get("client_id", "")
    if client.startswith("service-"):
        return _event(request, "service.open", target=client[len("service-") :])
    found = SERVER_CLIENT.search(urlparse(request.query.get("redirect_uri", "")).path)
    if not client.startswith("jupyterhub-user-") or not found:
        return None
    user, server = unquote(found.group("user")), unquote(found.group("server") or "")
    return _event(request, "server.open", target=f"{user}/{server}", project=server or None)


def _event(request: Request, action: str, **fields: Any) -> dict[str, Any]:
    details = {"method": request.method, "path": f"/hub/{request.path}", "status": request.status}
    details.update(fields.pop("details", None) or {})
    if request.status >= 400 and request.reason:
        details["reason"] = request.reason
    return new_event(
        action,
        request.actor,
        request.actor_kind,
        outcome(request.status),
        source=request.source,
        details=details,
        time=request.started,
        **fields,
    )


def _body(body: bytes) -> dict[str, Any]:
    """The request's JSON body with secrets masked, or a note saying why it is not there."""
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {"body_note": f"{len(body)} bytes, not JSON"}
    data = _mask(data)
    if len(canonical_details(data)) > MAX_BODY:
        return {"body_note": f"{len(body)} bytes, too large to record"}
    return {"body": data}


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if SECRET_KEYS.search(str(k)) else _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def from_handler(handler) -> Request | None:
    """Read a finished Tornado handler into a Request; None when describe() would not record it."""
    request = handler.request
    base = handler.settings.get("hub").base_url if handler.settings.get("hub") else "/hub/"
    path = request.path[len(base) :] if request.path.startswith(base) else request.path.lstrip("/")
    path, status = path.rstrip("/"), handler.get_status()
    if not might_record(request.method, path, status):
        return None
    actor, kind = _who(handler)
    return Request(
        method=request.method,
        path=path,
        status=status,
        actor=actor,
        actor_kind=kind,
        source=HubAudit.instance().client_address(request),
        body=(request.body or b"") if request.method in MUTATING else b"",
        query={k: v[-1].decode(errors="replace") for k, v in request.query_arguments.items()},
        location=str(handler._headers.get("Location", "")),
        reason=getattr(handler, "_reason", "") or "",
        started=format_time(datetime.now(UTC) - timedelta(seconds=request.request_time())),
    )


def _who(handler) -> tuple[str, str]:
    try:
        user = handler.current_user
    except Exception:
        user = None
    if user is None:
        return "anonymous", "anonymous"
    if getattr(user, "kind", None) == "service" or type(user).__name__ == "Service":
        return f"service:{user.name}", "service"
    scopes = getattr(handler, "expanded_scopes", None) or set()
    admin = bool(getattr(user, "admin", False) or ADMIN_SCOPES & scopes)
    return user.name, actor_kind(user.name, admin)


def audit_request_log(handler) -> None:
    """Tornado `log_function`: JupyterHub's request log, then the audit event if there is one."""
    log_request(handler)
    try:
        request = from_handler(handler)
        event = describe(request) if request is not None else None
    except Exception:
        log.exception(
            "audit: could not describe %s %s", handler.request.method, handler.request.path
        )
        return
    if event is not None:
        HubAudit.instance().record([event])
