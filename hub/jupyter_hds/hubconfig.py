"""Helpers for the subsystems' `configure(c, deployment)`: set entries by name, idempotently.

Each subsystem sets its own services, roles, scopes, handlers and groups in the hub's
config; running a `configure` twice leaves the config as running it once (tljh's rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from traitlets.config import Config


def _listed(section: Config, key: str) -> list:
    value = section.get(key)
    return list(value) if isinstance(value, list) else []


def set_services(c: Config, *services: dict[str, Any]) -> None:
    """Add hub services, replacing any of the same name."""
    names = {service["name"] for service in services}
    kept = [s for s in _listed(c.JupyterHub, "services") if s.get("name") not in names]
    c.JupyterHub.services = kept + list(services)


def set_roles(c: Config, *roles: dict[str, Any]) -> None:
    """Add roles (`load_roles`), replacing any of the same name."""
    names = {role["name"] for role in roles}
    kept = [r for r in _listed(c.JupyterHub, "load_roles") if r.get("name") not in names]
    c.JupyterHub.load_roles = kept + list(roles)


def set_handlers(c: Config, handlers: Iterable[tuple]) -> None:
    """Add hub handlers (`extra_handlers`), replacing any on the same URL pattern."""
    handlers = list(handlers)
    patterns = {handler[0] for handler in handlers}
    kept = [h for h in _listed(c.JupyterHub, "extra_handlers") if h[0] not in patterns]
    c.JupyterHub.extra_handlers = kept + handlers


def set_scopes(c: Config, scopes: dict[str, dict[str, str]]) -> None:
    """Add custom scopes (`custom:...`) with their descriptions."""
    current = c.JupyterHub.get("custom_scopes")
    c.JupyterHub.custom_scopes = {**(current if isinstance(current, dict) else {}), **scopes}


def set_template_path(c: Config, path: str) -> None:
    """Add a folder of page templates (ours override JupyterHub's of the same name)."""
    paths = [p for p in _listed(c.JupyterHub, "template_paths") if p != path]
    c.JupyterHub.template_paths = [*paths, path]


def set_template_vars(c: Config, variables: dict[str, Any]) -> None:
    """Add variables every hub page template sees."""
    current = c.JupyterHub.get("template_vars")
    c.JupyterHub.template_vars = {**(current if isinstance(current, dict) else {}), **variables}


def service_url(port: int) -> str:
    """A hub service's address: loopback only, the proxy brings people to it."""
    return f"http://127.0.0.1:{port}"
