"""The quota subsystem in the hub's config: usage service, idle culler, and who reads usage.

Admission at spawn is the spawner's (`projects.quota`); while servers run, the usage
service watches compute and the idle culler idle time, both through the hub's API.
"""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import service_url, set_roles, set_scopes, set_services
from ..services import service_environment
from . import service
from .pages import READ_SCOPE

SERVICE = "usage"
CULLER = "idle-culler"
CULLER_CONFIG = Path(__file__).parent / "idle_culler_config.py"


def configure(c: Config, deployment: Deployment) -> None:
    set_scopes(c, {READ_SCOPE: {"description": "Read the usage ledger's monthly summaries."}})
    set_roles(
        c,
        {
            "name": "usage-reader",
            "description": "Read usage and invoices (the hosting team)",
            "scopes": [READ_SCOPE, f"access:services!service={SERVICE}"],
            "groups": ["hds-admins"],
        },
        {
            "name": CULLER,
            "scopes": [
                "list:users", "read:users:activity", "read:servers", "delete:servers",
                "list:groups", "read:groups",
            ],
            "services": [CULLER],
        },
        {
            # The census reads projects and servers; the compute watch stops servers.
            "name": "usage-service",
            "scopes": [
                "list:users", "read:users:name", "read:servers", "delete:servers",
                "list:groups", "read:groups",
            ],
            "services": [SERVICE],
        },
    )  # fmt: skip
    set_services(
        c,
        {
            "name": CULLER,
            "command": [
                sys.executable, "-m", "jupyterhub_idle_culler", f"--config={CULLER_CONFIG}",
            ],
            "environment": service_environment(deployment),
        },
        {
            "name": SERVICE,
            "display": True,
            "url": service_url(deployment.port(SERVICE, service.PORT)),
            "command": [sys.executable, "-m", "jupyter_hds.usage.service"],
            "environment": service_environment(deployment),
            "oauth_client_allowed_scopes": [READ_SCOPE],
            "oauth_no_confirm": True,
            "info": {"description": "Usage and invoices per project and month (hosting team)"},
        },
    )  # fmt: skip
