"""Jupyter HDS hub configuration: classes and values only; the policy lives in jupyter_hds.

State goes to $HDS_STATE_DIR (default /var/lib/jupyter-hds). Operators add settings in
*.py files of $HDS_CONFIG_DIR, loaded last in sorted order: never edit this file.
"""

import os
import sys
from pathlib import Path

import hds_quota
from hds_quota.hub_settings import QuotaSettingsHandler
from jupyter_hds import home, sharing_handlers
from jupyter_hds.audit.handlers import AuditEventsHandler
from jupyter_hds.audit.hub import HubEvents
from jupyter_hds.audit.requestlog import audit_request_log
from jupyter_hds.configdir import load_fragments

c = get_config()  # noqa: F821 (injected by traitlets)
state = Path(os.environ.get("HDS_STATE_DIR", "/var/lib/jupyter-hds"))

# Browsers reach the proxy; user servers reach the hub API at their network's gateway.
c.JupyterHub.bind_url = os.environ.get("HDS_PUBLIC_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
c.JupyterHub.default_url = "/hub/home"

# Projects are groups; one named server per user per project, named after the project.
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 0
c.JupyterHub.spawner_class = "hds-docker"
c.HDSDockerSpawner.prefix = "hds"
c.ProjectSettings.datasets_root = str(state / "datasets")
c.ProjectSettings.storage_root = str(state / "projects")
c.ProjectSettings.default_image = os.environ.get(
    "HDS_SINGLEUSER_IMAGE", "jupyter-hds/singleuser:latest"
)
c.Spawner.disable_user_config = True
# Researchers land in their own writable space (the rest of $HOME is read-only).
c.Spawner.default_url = "/lab/tree/work"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120

# Login: the organisation's OpenID Connect provider. The operator names it (issuer, client id
# and secret) in $HDS_CONFIG_DIR; docs/oidc.md has the steps. Tokens are kept in encrypted auth
# state ($JUPYTERHUB_CRYPT_KEY). Admins add people in the admin panel: existing users may log in.
c.JupyterHub.authenticator_class = "hds-oidc"
c.HDSOIDCAuthenticator.allow_existing_users = True
c.HDSOIDCAuthenticator.auth_refresh_age = 300
c.HDSOIDCAuthenticator.refresh_pre_spawn = True

# The home page lists the user's projects.
c.JupyterHub.template_paths = [home.TEMPLATES]
c.JupyterHub.template_vars = {"hds_projects": home.project_rows_for}

# Audit (docs/audit.md): the hub drops every event in the record's inbox; the audit service
# (below) chains them into the record and serves the read-only audit page to the auditor role.
audit_dir = state / "audit"
c.AuditRecord.directory = str(audit_dir)
c.JupyterHub.tornado_settings = {"log_function": audit_request_log}
c.EventLogger.handlers = [HubEvents()]
# The hub's HDS endpoints: audit events from user servers, and sharing (below).
c.JupyterHub.extra_handlers = [
    (r"/api/hds/audit/events", AuditEventsHandler),
    *sharing_handlers.HANDLERS,
]
c.JupyterHub.custom_scopes = {
    "custom:audit:read": {"description": "Read, filter and export the audit record."},
}

# The hosting team is the group hds-admins: it onboards projects in the admin panel but,
# unlike JupyterHub's built-in admin role, cannot open researchers' servers (no
# access:servers, no shares, and no `tokens` scope: a token made for a researcher would carry
# her access). Its members manage their own tokens, as every user does. Keep
# c.Authenticator.admin_users empty.
c.JupyterHub.load_groups = {"hds-admins": {"users": []}}
c.JupyterHub.load_roles = [
    {
        "name": "hds-admin",
        "description": "Onboard and run projects; no access to researchers' servers or data",
        "scopes": [
            "admin-ui",
            "admin:users",
            "admin:servers",
            "admin:groups",
            "list:services",
            "read:services",
            "read:hub",
            "read:roles",
            "read:metrics",
        ],
        "groups": ["hds-admins"],
    },
    {
        "name": "project-guard",
        "scopes": [
            "list:users",
            "read:users:name",
            "read:servers",
            "delete:servers",
            "list:groups",
            "read:groups",
        ],
        "services": ["project-guard"],
    },
    {
        "name": "auditor",
        "description": "Reads and exports the audit record; changes nothing.",
        "scopes": ["custom:audit:read", "access:services!service=audit"],
        "groups": ["auditors"],
    },
]
c.JupyterHub.services = [
    {
        "name": "project-guard",
        "command": [sys.executable, "-m", "jupyter_hds.project_guard", "--interval=5"],
    },
    {
        "name": "audit",
        "display": True,
        "url": "http://127.0.0.1:8082",
        "command": [sys.executable, "-m", "jupyter_hds.audit.service"],
        "environment": {"HDS_AUDIT_DIR": str(audit_dir)},
        "oauth_client_allowed_scopes": ["custom:audit:read"],
        "oauth_no_confirm": True,
        "info": {"description": "Audit record (auditors only)"},
    },
]

# --- Plans and quotas (docs/quotas.md) ---------------------------------------------------
# Each project's storage is an ext4 image loop-mounted at <storage_root>/<project>; every
# server's start and stop goes to the usage ledger; idle servers are culled after their
# plan's idle_timeout; the usage service serves the monthly summary to the hosting team.
c.Quotas.volumes_root = str(state / "project-volumes")
c.Quotas.usage_dir = str(state / "usage")
c.JupyterHub.extra_handlers.append((r"/api/hds/quota", QuotaSettingsHandler))
c.JupyterHub.custom_scopes.update(
    {"custom:usage:read": {"description": "Read the usage ledger's monthly summaries."}}
)
c.JupyterHub.load_roles += [
    {
        "name": "usage-reader",
        "description": "Read usage and invoices (the hosting team)",
        "scopes": ["custom:usage:read", "access:services!service=usage"],
        "groups": ["hds-admins"],
    },
    {
        "name": "idle-culler",
        "scopes": [
            "list:users", "read:users:activity", "read:servers", "delete:servers",
            "list:groups", "read:groups", "read:hub",
        ],
        "services": ["idle-culler"],
    },
    {
        "name": "usage-service",
        "scopes": [
            "list:users", "read:users:name", "read:servers", "list:groups", "read:groups",
            "read:hub",
        ],
        "services": ["usage"],
    },
]  # fmt: skip
c.JupyterHub.services += [
    {
        "name": "idle-culler",
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler", "--cull-every=60",
            f"--config={Path(hds_quota.__file__).parent / 'idle_culler_config.py'}",
        ],
    },
    {
        "name": "usage",
        "display": True,
        "url": "http://127.0.0.1:8083",
        "command": [sys.executable, "-m", "hds_quota.service"],
        "oauth_client_allowed_scopes": ["custom:usage:read"],
        "oauth_no_confirm": True,
        "info": {"description": "Usage and invoices per project and month (hosting team)"},
    },
]  # fmt: skip

# Sharing (docs/collaboration.md): members let members of the same project into their server
# to co-edit live. Nobody holds JupyterHub's `shares` scope (share codes would let any
# logged-in user in); the HDS endpoints (extra_handlers, above) grant shares after the
# project policy says yes.
# Sharing needs user servers on their own subdomains: set c.JupyterHub.subdomain_host.
c.SharingPolicy.require_origin_isolation = True

load_fragments(c)
