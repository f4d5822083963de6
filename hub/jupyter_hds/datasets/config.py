"""The datasets subsystem in the hub's config: the hosting team's API and page, its scope."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import set_handlers, set_roles, set_scopes, set_template_path
from .handlers import API_HANDLERS, MANAGE_SCOPE, PAGE_HANDLERS

TEMPLATES = str(Path(__file__).parent / "templates")


def configure(c: Config, deployment: Deployment) -> None:
    set_handlers(c, [*API_HANDLERS, *PAGE_HANDLERS])
    set_template_path(c, TEMPLATES)
    set_scopes(c, {MANAGE_SCOPE: {"description": "Import datasets and read their manifests."}})
    set_roles(
        c,
        {
            "name": "dataset-manager",
            "description": "Import datasets for projects (the hosting team); no access to them",
            "scopes": [MANAGE_SCOPE],
            "groups": ["hds-admins"],
        },
    )
