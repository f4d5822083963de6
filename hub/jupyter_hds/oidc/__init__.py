"""OpenID Connect login: the generic authenticator and the Pro Santé Connect preset."""

from .authenticator import HDSOIDCAuthenticator
from .prosante import ProSanteConnectAuthenticator

__all__ = ["HDSOIDCAuthenticator", "ProSanteConnectAuthenticator"]
