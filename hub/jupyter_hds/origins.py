"""Web origins when user servers live on subdomains: each person's servers on their own, the
hub's services (audit, usage, airlock pages) on the hub's.

With `c.JupyterHub.subdomain_host`, JupyterHub also moves every hub service to its own
subdomain (`audit--service.<hub host>`): the service's links back to the hub (`/hub/home`)
then reach the hub without its login cookie, and `/services/<name>/` on the hub's host is
a 404. The services are the hub's own code, as trusted as the hub, so they stay on the hub's
origin, where a hub without subdomains has them; user servers, which people share, keep an
origin each (docs/collaboration.md).
"""

from __future__ import annotations

from jupyterhub.utils import subdomain_hook_idna
from traitlets.config import Config

from .deployment import Deployment


def servers_apart_services_home(name: str, domain: str, kind: str) -> str:
    """`c.JupyterHub.subdomain_hook`: users' subdomains as JupyterHub makes them; services on
    the hub's own host."""
    if kind == "service":
        return domain
    return subdomain_hook_idna(name, domain, kind)


def configure(c: Config, deployment: Deployment) -> None:
    # Used only when an operator sets c.JupyterHub.subdomain_host.
    c.JupyterHub.subdomain_hook = servers_apart_services_home
