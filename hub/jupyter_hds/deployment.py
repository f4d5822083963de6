"""Where this hub lives: its state folder and the layout under it, its address and its ports.

Every process of the hub (the hub itself, its services, the `hds` command) finds its files
here, from one setting: the state folder (`c.Deployment.state_dir`, default
`$HDS_STATE_DIR` or /var/lib/jupyter-hds). Nothing else names a folder of the hub's state.
"""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Dict, Integer, List, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from hds_records import addresses

STATE_ENV = "HDS_STATE_DIR"
DEFAULT_STATE_DIR = "/var/lib/jupyter-hds"


class Deployment(LoggingConfigurable):
    """The hub's state folder, public address and local ports."""

    state_dir = Unicode(
        help="""Folder of everything the hub keeps: its database, the audit record, the usage
        ledger, datasets and their keys, project volumes and files, release requests.
        Back it up whole (`hds backup`). Default: $HDS_STATE_DIR, else /var/lib/jupyter-hds.""",
    ).tag(config=True)

    public_url = Unicode(
        "http://127.0.0.1:8000",
        help="""The address people open in their browser (the proxy's public URL). Behind a
        TLS front (nginx), the https address it serves.""",
    ).tag(config=True)

    hub_port = Integer(
        8081,
        help="""Port of the hub's own API. User servers reach it at their project network's
        gateway; the host firewall (chain HDS-INPUT) refuses it on every other interface but
        loopback.""",
    ).tag(config=True)

    ports = Dict(
        value_trait=Integer(),
        help="""Loopback ports of the hub's own services by name, where their defaults (audit
        8082, usage 8083) are taken: {"audit": 18082}.""",
    ).tag(config=True)

    trusted_proxies = List(
        Unicode(),
        help="""Proxies in front of the hub's own proxy (a TLS front such as nginx), as
        addresses or networks: ["127.0.0.1"] for an nginx on this host, ["10.0.0.5/32"]
        elsewhere. The audit record takes a request's address from X-Forwarded-For only
        through these and the hub's own proxy (which appends the address it saw), the first
        address from the right that is not one of them; never from X-Real-Ip. Users'
        servers get the same list. Empty (the default): the address the hub's proxy saw.""",
    ).tag(config=True)

    @validate("trusted_proxies")
    def _networks(self, proposal):
        try:
            addresses.networks(proposal.value)
        except ValueError as error:
            raise TraitError(f"Deployment.trusted_proxies: {error}") from None
        return proposal.value

    @property
    def trusted_networks(self) -> tuple[addresses.Network, ...]:
        return addresses.networks(self.trusted_proxies)

    def port(self, service: str, default: int) -> int:
        """The loopback port of the hub service `service`."""
        return self.ports.get(service, default)

    db_url = Unicode(
        help="""The hub's database (SQLAlchemy URL), given to c.JupyterHub.db_url. Default:
        SQLite in the state folder. For several hosts or many users, PostgreSQL:
        "postgresql://jupyterhub@db.example.org/jupyterhub" (password in ~/.pgpass or
        $PGPASSWORD, never here); move an existing hub with `hds db migrate --to URL`
        (docs/scaling.md).""",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self):
        return f"sqlite:///{self.state / 'jupyterhub.sqlite'}"

    @default("state_dir")
    def _default_state_dir(self):
        return os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR

    @validate("state_dir")
    def _absolute(self, proposal):
        if not os.path.isabs(proposal.value):
            raise ValueError(
                f"Deployment.state_dir must be an absolute path, not {proposal.value!r}"
            )
        return proposal.value

    @validate("db_url")
    def _supported_database(self, proposal):
        scheme = proposal.value.partition("://")[0]
        if scheme.partition("+")[0] not in ("sqlite", "postgresql"):
            raise ValueError(
                f"Deployment.db_url {proposal.value!r} is not a database Jupyter HDS runs on; "
                "write sqlite:////var/lib/jupyter-hds/jupyterhub.sqlite or "
                "postgresql://USER@HOST:PORT/DATABASE"
            )
        return proposal.value

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    # The layout of the state folder: one name per kind of state.
    @property
    def datasets(self) -> Path:
        """Imported datasets: <name>/<version>/ (Parquet tables and a manifest), read-only."""
        return self.state / "datasets"

    @property
    def keys(self) -> Path:
        """Projects' pseudonymisation keys, root-only, never mounted into a container."""
        return self.state / "keys"

    @property
    def audit(self) -> Path:
        """The audit record: chained segments and the inbox of events waiting to be chained."""
        return self.state / "audit"

    @property
    def usage(self) -> Path:
        """The usage ledger, one file per month."""
        return self.state / "usage"

    @property
    def projects(self) -> Path:
        """Each project's files: its shared folder and its members' spaces (volume mounts)."""
        return self.state / "projects"

    @property
    def volumes(self) -> Path:
        """Each project's storage volume image (ext4), loop-mounted under `projects`."""
        return self.state / "project-volumes"

    @property
    def releases(self) -> Path:
        """The airlock's release area: frozen copies of files asked to leave, and decisions."""
        return self.state / "releases"

    @property
    def resolv_conf(self) -> Path:
        """The resolv.conf user servers get: no resolver they can reach (their network has
        no route out), so a name lookup fails at once."""
        return self.state / "container-resolv.conf"

    @property
    def terms_acceptances(self) -> Path:
        """Who accepted which version of the terms of use, and when (JSON, root-only)."""
        return self.state / "terms-accepted.json"

    @property
    def settings_file(self) -> Path:
        """The HDS settings the hub runs with, written at each start for its services and CLI."""
        return self.state / "hds-settings.json"
