"""The sharing subsystem in the hub's config: its endpoints and page, revocation on leaving.

Members let members of the same project into their server to co-edit live
(docs/collaboration.md). Nobody holds JupyterHub's `shares` scope (share codes would let any
logged-in user in); these endpoints grant shares after the policy says yes. Sharing needs
user servers on their own subdomains: set c.JupyterHub.subdomain_host.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import set_handlers, set_template_path
from . import revocation
from .handlers import HANDLERS

TEMPLATES = str(Path(__file__).parent / "templates")


def configure(c: Config, deployment: Deployment) -> None:
    set_handlers(c, HANDLERS)
    set_template_path(c, TEMPLATES)
    revocation.install()
