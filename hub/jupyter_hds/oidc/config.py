"""The login subsystem in the hub's config: OpenID Connect, tokens kept and refreshed.

The operator names the provider (issuer, client id and secret) in $HDS_CONFIG_DIR;
docs/oidc.md has the steps. Tokens are kept in encrypted auth state ($JUPYTERHUB_CRYPT_KEY).
"""

from __future__ import annotations

from traitlets.config import Config

from ..deployment import Deployment


def configure(c: Config, deployment: Deployment) -> None:
    c.JupyterHub.authenticator_class = "hds-oidc"
    # Admins add people in the admin panel: existing users may log in.
    c.HDSOIDCAuthenticator.allow_existing_users = True
    c.HDSOIDCAuthenticator.auth_refresh_age = 300
    c.HDSOIDCAuthenticator.refresh_pre_spawn = True
