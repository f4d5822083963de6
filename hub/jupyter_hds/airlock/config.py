"""The airlock subsystem in the hub's config: its API and pages, and the output checkers' role.

Output checkers are the members of the `output-checkers` group (the hosting team's or the
data controller's people): the `output-checker` role gives them the review scope. Settings:
c.Airlock (thresholds, approvals per plan, sizes, how long releases last).
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import set_handlers, set_roles, set_scopes, set_template_path
from .handlers import API_HANDLERS, REVIEW_SCOPE
from .pages import PAGE_HANDLERS

TEMPLATES = str(Path(__file__).parent / "templates")
CHECKERS = "output-checkers"
CHECKER_ROLE = {
    "name": "output-checker",
    "description": "Reviews release requests: approve, request changes or reject",
    "scopes": [REVIEW_SCOPE],
    "groups": [CHECKERS],
}


def configure(c: Config, deployment: Deployment) -> None:
    set_handlers(c, [*API_HANDLERS, *PAGE_HANDLERS])
    set_template_path(c, TEMPLATES)
    set_scopes(c, {REVIEW_SCOPE: {"description": "Review the airlock's release requests."}})
    # The checkers' group comes with its role (JupyterHub makes the groups its roles name):
    # no `load_groups`, which JupyterHub refuses when the provider owns groups.
    set_roles(c, CHECKER_ROLE)
