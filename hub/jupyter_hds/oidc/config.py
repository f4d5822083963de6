"""The login subsystem in the hub's config: OpenID Connect, tokens kept, refreshed, strictly.

The operator names the provider (issuer, client id and secret) and who may log in in
$HDS_CONFIG_DIR; docs/oidc.md has the steps. Tokens are kept in encrypted auth state
($JUPYTERHUB_CRYPT_KEY). Nobody may log in until the operator says who: `allowed_users`,
`allowed_provider_groups`, or, as an explicit choice, `allow_existing_users`.
"""

from __future__ import annotations

from traitlets.config import Config

from ..deployment import Deployment
from ..hubconfig import set_handlers
from . import identity

# How often the hub asks the provider whether a login still holds (seconds): the longest a
# person removed at the provider keeps a way in. A running server asks on its owner's
# behalf at least this often (its activity reports), so their servers stop within it too.
REFRESH_SECONDS = 300


def configure(c: Config, deployment: Deployment) -> None:
    c.JupyterHub.authenticator_class = "hds-oidc"
    c.HDSOIDCAuthenticator.auth_refresh_age = REFRESH_SECONDS
    c.HDSOIDCAuthenticator.refresh_pre_spawn = True
    # JupyterHub 6.1 keeps serving the tokens (API, a server's OAuth) of someone whose login
    # the provider no longer renews, unless strict.
    c.HDSOIDCAuthenticator.auth_refresh_strict = True
    set_handlers(c, identity.HANDLERS)
