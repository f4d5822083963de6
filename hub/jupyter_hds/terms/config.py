"""The terms subsystem in the hub's config: the page, and what the home page needs to know."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import set_handlers, set_template_path, set_template_vars
from .check import TermsInForce
from .handlers import HANDLERS

TEMPLATES = str(Path(__file__).parent / "templates")


def _pending(config: Config, user: Any):
    return TermsInForce.of(config).pending(user.name) if user is not None else None


def configure(c: Config, deployment: Deployment) -> None:
    set_handlers(c, HANDLERS)
    set_template_path(c, TEMPLATES)

    # Called for every page JupyterHub renders; the home page alone calls what it returns.
    # Read then, not now: operators' fragments are merged into `c` after this runs.
    def terms_pending(user: Any):
        return partial(_pending, c, user)

    set_template_vars(c, {"hds_terms_pending": terms_pending})
