"""The projects subsystem in the hub's config: one named server per member per project."""

from __future__ import annotations

import sys

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import (
    set_handlers,
    set_roles,
    set_services,
    set_template_path,
    set_template_vars,
)
from ..services import service_environment
from . import home, overview, validation

GUARD = "project-guard"
# Researchers: JupyterHub's `self` minus `tokens`. A token they made would reach their
# servers from anywhere, outside the browser session, its acr and its managed workstation,
# and would outlive their login. Browsers get short OAuth tokens through the login instead.
USER_ROLE = {
    "name": "user",
    "description": "A researcher: their own servers, through the browser",
    "scopes": [
        "read:users!user", "users:activity!user", "servers!user", "access:servers!user",
        "read:shares!user", "users:shares!user",
    ],
}  # fmt: skip
# A server's own token ($JUPYTERHUB_API_TOKEN, readable by every kernel) only reports activity
# (and, being that server's token, data-guard events): not `access:servers!server`, so it
# cannot open its own server's files from outside the browser session.
SERVER_TOKEN_SCOPES = ["users:activity!user"]
# API tokens anyone may still make (the hosting team, for `hds project`) last a working day
# at most; a token asked for without an expiry gets this one.
TOKEN_MAX_SECONDS = 8 * 3600
# The hosting team: onboards projects in the admin panel but, unlike JupyterHub's built-in
# admin role, cannot open researchers' servers (no access:servers, no shares, no `tokens` on
# others: a token made for a researcher would carry her access), nor read their stored login
# (`admin:users` would bring `admin:auth_state`), nor make anyone a JupyterHub admin or rename
# them (both need `admin:users`): they add people with PUT /hub/api/hds/users/<name>
# (docs/oidc.md). Nobody adds themself to a group (membership.py). Keep admin_users empty.
STAFF_GROUP = "hds-admins"
STAFF_ROLE = {
    "name": "hds-admin",
    "description": "Onboard and run projects; no access to researchers' servers or data",
    "scopes": [
        "admin-ui", "users", "delete:users", "read:roles:users", "admin:servers",
        "admin:groups", "list:services", "read:services", "read:hub", "read:roles",
        "read:metrics", "tokens!user",
    ],
    "groups": [STAFF_GROUP],
}  # fmt: skip
GUARD_ROLE = {
    "name": GUARD,
    "scopes": [
        "list:users", "read:users:name", "read:servers", "delete:servers", "list:groups",
        "read:groups",
    ],
    "services": [GUARD],
}  # fmt: skip


def configure(c: Config, deployment: Deployment) -> None:
    # Projects are groups; one named server per user per project, named after the project.
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = 0
    c.JupyterHub.spawner_class = "hds-docker"
    c.HDSDockerSpawner.prefix = "hds"
    c.HDSSwarmSpawner.prefix = "hds"  # when an operator turns swarm mode on (docs/scaling.md)
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    c.JupyterHub.token_expires_in_max_seconds = TOKEN_MAX_SECONDS
    c.Spawner.http_timeout = 60
    c.Spawner.start_timeout = 120
    # Servers outlive the hub: a restart (upgrade, new plan, crash) leaves them running, and
    # the hub finds them at its next start (docs/operating.md, "Restarts").
    c.JupyterHub.cleanup_servers = False
    # The home page lists the user's projects.
    c.JupyterHub.default_url = "/hub/home"
    set_template_path(c, home.TEMPLATES)
    set_handlers(c, overview.HANDLERS)
    set_template_vars(c, {"hds_projects": home.project_rows_for})
    validation.install()  # project groups are checked when written
    # The staff group comes with its role (JupyterHub makes the groups its roles name): no
    # `load_groups` here, which JupyterHub refuses when the provider owns groups.
    set_roles(c, USER_ROLE, STAFF_ROLE, GUARD_ROLE)
    set_services(
        c,
        {
            "name": GUARD,
            "command": [sys.executable, "-m", "jupyter_hds.projects.guard"],
            "environment": service_environment(deployment),
        },
    )
