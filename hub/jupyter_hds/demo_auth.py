"""Demo login for `make up`: any password, loopback clients only. Never for production."""

from __future__ import annotations

import ipaddress

from jupyterhub.auth import DummyAuthenticator
from tornado import web


class DemoAuthenticator(DummyAuthenticator):
    """DummyAuthenticator that only answers browsers on this machine and only known demo users."""

    def check_allow_config(self):
        super().check_allow_config()
        if not self.allowed_users:
            raise ValueError(
                "DemoAuthenticator needs c.Authenticator.allowed_users (the demo accounts)"
            )

    async def authenticate(self, handler, data):
        if not ipaddress.ip_address(handler.request.remote_ip).is_loopback:
            raise web.HTTPError(403, "The demo login only accepts browsers on the hub's machine")
        return await super().authenticate(handler, data)
