"""Work-arounds for the pinned JupyterHub; each names its bug and goes when the pin moves past."""

from __future__ import annotations

from jupyterhub.handlers.base import BaseHandler


def patch_token_authenticated_default() -> None:
    """JupyterHub 6.1.1: a failed `refresh_user` on a cookie request crashes with a 500.

    `BaseHandler.refresh_auth` reads `self._token_authenticated`, which only token-authenticated
    requests set, so a browser whose tokens can no longer be refreshed gets "Unhandled error"
    instead of the login page. A class default of False (what the attribute means when unset)
    restores the intended redirect; token requests still set it on the instance.
    """
    if not hasattr(BaseHandler, "_token_authenticated"):
        BaseHandler._token_authenticated = False
