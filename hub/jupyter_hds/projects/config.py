"""The projects subsystem in the hub's config: one named server per member per project."""

from __future__ import annotations

import sys

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import (
    set_groups,
    set_handlers,
    set_roles,
    set_services,
    set_template_path,
    set_template_vars,
)
from ..services import service_environment
from . import home, overview, validation

GUARD = "project-guard"
# The hosting team: onboards projects in the admin panel but, unlike JupyterHub's built-in
# admin role, cannot open researchers' servers (no access:servers, no shares, no `tokens`:
# a token made for a researcher would carry her access). Keep c.Authenticator.admin_users empty.
STAFF_GROUP = "hds-admins"
STAFF_ROLE = {
    "name": "hds-admin",
    "description": "Onboard and run projects; no access to researchers' servers or data",
    "scopes": [
        "admin-ui", "admin:users", "admin:servers", "admin:groups", "list:services",
        "read:services", "read:hub", "read:roles", "read:metrics",
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
    set_groups(c, {STAFF_GROUP: {"users": []}})
    set_roles(c, STAFF_ROLE, GUARD_ROLE)
    set_services(
        c,
        {
            "name": GUARD,
            "command": [sys.executable, "-m", "jupyter_hds.projects.guard"],
            "environment": service_environment(deployment),
        },
    )
