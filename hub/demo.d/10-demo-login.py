# `make up` only: log in with the local demo OpenID Connect provider that scripts/up.sh starts.
import os

c = get_config()  # noqa: F821 (injected by traitlets)

issuer = os.environ.get("HDS_DEMO_OIDC_ISSUER")
if not issuer:
    raise RuntimeError("hub/demo.d is for `make up`: it starts the demo provider and sets its URL")
# scripts/up.sh picks the public address (HDS_PUBLIC_URL) and registers it at the provider.
if os.environ.get("HDS_PUBLIC_URL"):
    c.Deployment.public_url = os.environ["HDS_PUBLIC_URL"]
c.HDSOIDCAuthenticator.issuer = issuer
c.HDSOIDCAuthenticator.client_id = "jupyter-hds-demo"
c.HDSOIDCAuthenticator.client_secret = os.environ["HDS_DEMO_OIDC_CLIENT_SECRET"]
c.HDSOIDCAuthenticator.login_service = "the demo identity provider"
c.HDSOIDCAuthenticator.scope = ["openid", "profile", "email", "groups"]
# Who may log in and who is admin come from the provider's `groups` claim in the demo;
# project membership stays in the hub's admin panel.
c.HDSOIDCAuthenticator.allowed_provider_groups = {"hds-users"}
c.HDSOIDCAuthenticator.admin_provider_groups = {"hds-admins"}
# Access follows the provider's groups, so a user removed from `hds-users` there is refused here.
c.HDSOIDCAuthenticator.allow_existing_users = False
