"""Base of the hub services' pages (audit, usage): hub login, one scope, strict headers."""

from __future__ import annotations

from typing import ClassVar

from jinja2 import Template
from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

# Pages are server-rendered, with a local stylesheet (and images): nothing else may load.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class ServicePage(HubOAuthenticated, web.RequestHandler):
    """A page behind the hub's OAuth login that only holders of `read_scope` may see."""

    read_scope: ClassVar[str]
    forbidden_message: ClassVar[str]  # what a logged-in person without the scope reads
    error_template: ClassVar[Template]  # rendered with status, message, prefix

    @property
    def hub_scopes(self):
        return {self.read_scope}

    @property
    def prefix(self) -> str:
        return self.settings["prefix"]

    def set_default_headers(self):
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code, **kwargs):
        message = self._reason
        error = kwargs.get("exc_info", (None, None))[1]
        if status_code == 403:
            message = self.forbidden_message
        elif isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        self.finish(
            self.error_template.render(status=status_code, message=message, prefix=self.prefix)
        )
