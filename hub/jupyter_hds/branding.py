"""Who runs this hub, on its pages: the operator's name and logo, and the terms of use to accept.

`c.Branding.name` and `c.Branding.logo_file` appear on every hub page and its login page;
`c.Branding.terms_file` (Markdown) and `c.Branding.terms_version` are the terms of use
each person accepts before their first server start and again when the version changes
(`jupyter_hds.terms`).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyterhub.handlers.static import LogoHandler
from tornado import web
from traitlets import Unicode, validate
from traitlets.config import Config, LoggingConfigurable

from .deployment import Deployment
from .hubconfig import set_handlers, set_template_vars

LOGO_URL = "hds/logo"


@dataclass(frozen=True)
class Terms:
    """The terms of use in force: their version, the file's sha256 and its Markdown text."""

    version: str
    sha256: str
    text: str
    path: str


@lru_cache(maxsize=8)
def _read_terms(path: str, version: str, mtime_ns: int, size: int) -> Terms:
    data = Path(path).read_bytes()
    return Terms(version, hashlib.sha256(data).hexdigest(), data.decode("utf-8"), path)


class Branding(LoggingConfigurable):
    """The operator's name, logo and terms of use, as people see them on the hub."""

    name = Unicode(
        "Jupyter HDS",
        help="""The hosting organisation's name, shown in every hub page's title and on the
        login page, e.g. "CHU Exemple — plateforme de données de santé".""",
    ).tag(config=True)

    logo_file = Unicode(
        "",
        help="""Absolute path of the operator's logo (PNG, SVG or JPEG), shown at the top of
        every hub page instead of JupyterHub's. Empty: JupyterHub's logo
        (c.JupyterHub.logo_file).""",
    ).tag(config=True)

    terms_file = Unicode(
        "",
        help="""Absolute path of the terms of use, in Markdown (the "charte" people sign).
        When set, each person must accept them on /hub/hds/terms before their first server
        start, and again whenever c.Branding.terms_version changes. Empty: no terms.""",
    ).tag(config=True)

    terms_version = Unicode(
        "",
        help="""Version of the terms in c.Branding.terms_file, e.g. "2026-01" or "v3".
        Change it when the terms change: everyone accepts the new version before their next
        server start. Acceptances record it with the file's sha256.""",
    ).tag(config=True)

    @validate("logo_file", "terms_file")
    def _absolute(self, proposal):
        value = proposal.value
        if value and not os.path.isabs(value):
            raise ValueError(
                f"Branding.{proposal.trait.name} must be an absolute path, not {value!r}"
            )
        return value

    def terms(self) -> Terms | None:
        """The terms in force (read again when the file changes); None when there are none.

        A terms file without a version, or one that cannot be read, is an error: people
        must not start servers on terms nobody can show them."""
        if not self.terms_file:
            return None
        if not self.terms_version:
            raise ValueError(
                "c.Branding.terms_file is set but c.Branding.terms_version is not: "
                'set a version, e.g. c.Branding.terms_version = "2026-01"'
            )
        stat = os.stat(self.terms_file)
        return _read_terms(self.terms_file, self.terms_version, stat.st_mtime_ns, stat.st_size)


@dataclass(frozen=True)
class PageBranding:
    """What page templates show (`hds_branding` in templates)."""

    name: str
    logo_url: str
    has_terms: bool


def page_branding(config: Config) -> Callable[[Any], PageBranding]:
    """The `template_vars` entry: the Branding of the hub's final config (operator fragments
    are merged into `config` after the subsystems configure it, so it is read per page)."""

    def branding(user: Any) -> PageBranding:
        settings = Branding(config=config)
        return PageBranding(
            name=settings.name,
            logo_url=LOGO_URL if settings.logo_file else "logo",
            has_terms=bool(settings.terms_file),
        )

    return branding


class BrandingLogoHandler(LogoHandler):
    """GET /hub/hds/logo: the operator's logo (c.Branding.logo_file)."""

    def initialize(self):  # type: ignore[override]
        self.logo = Branding(config=self.settings["config"]).logo_file
        super().initialize(path=self.logo or os.devnull)

    def get(self):
        if not self.logo:
            raise web.HTTPError(404, "No operator logo: set c.Branding.logo_file.")
        return super().get()

    def get_content_type(self) -> str:
        kind, _ = mimetypes.guess_type(self.absolute_path or "")
        return kind or "application/octet-stream"


def configure(c: Config, deployment: Deployment) -> None:
    set_handlers(c, [(rf"/{LOGO_URL}", BrandingLogoHandler)])
    set_template_vars(c, {"hds_branding": page_branding(c)})
