"""The airlock in test hubs: its config fragment (until the shipped page lists it), requests.

`FRAGMENT` adds the airlock subsystem to a `RealHub` or `DemoStack` through `$HDS_CONFIG_DIR`
the way `configure(c, deployment)` would, and is empty once hub/jupyterhub_config.py calls
the airlock's `configure` itself (a role defined twice would stop the hub).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from textwrap import dedent

from .hub import CONFIG

WIRED = "airlock" in CONFIG.read_text()
FRAGMENT = (
    ""
    if WIRED
    else dedent("""
    # The airlock subsystem, as its configure(c, deployment) sets it (extending, not replacing).
    from traitlets.config import Config
    from jupyter_hds.airlock import config as airlock
    from jupyter_hds.deployment import Deployment

    part = Config()
    airlock.configure(part, Deployment())
    c.JupyterHub.extra_handlers.extend(part.JupyterHub.extra_handlers)
    c.JupyterHub.load_roles.extend(part.JupyterHub.load_roles)
    c.JupyterHub.custom_scopes.update(part.JupyterHub.custom_scopes)
    c.JupyterHub.load_groups.update(part.JupyterHub.load_groups)
    c.JupyterHub.template_paths.extend(part.JupyterHub.template_paths)
    """)
)


def checkers(*names: str) -> str:
    """A fragment putting `names` in the output checkers' group."""
    return (
        f'\nc.JupyterHub.load_groups.update({{"output-checkers": {{"users": {list(names)!r}}}}})\n'
    )


def file_entry(path: str, data: bytes, description: str = "counts", min_cell_size=None) -> dict:
    """A file of a release request as the researcher's server sends it."""
    return {"path": path, "description": description, "min_cell_size": min_cell_size,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip


def release_dir(state_dir: Path, request_id: str) -> Path:
    return state_dir / "releases" / request_id
