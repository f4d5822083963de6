"""Pro Santé Connect (the French national login for health professionals) as a preset."""

from __future__ import annotations

from traitlets import Unicode, default, validate

from .authenticator import HDSOIDCAuthenticator

# environment -> (issuer, authorization endpoint). PSC sends browsers to its "wallet" host,
# which its Keycloak discovery document does not name.
ENVIRONMENTS = {
    "production": (
        "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet",
        "https://wallet.esw.esante.gouv.fr/auth",
    ),
    "sandbox": (
        "https://auth.bas.esw.esante.gouv.fr/auth/realms/esante-wallet",
        "https://wallet.bas.esw.esante.gouv.fr/auth",
    ),
}


class ProSanteConnectAuthenticator(HDSOIDCAuthenticator):
    """Pro Santé Connect: `eidas1` or stronger, signed userinfo, the national professional id.

    Only the client id and secret PSC gave at registration are needed; `environment` picks
    the sandbox or production.
    """

    environment = Unicode(
        "production",
        help=f"PSC environment: {', '.join(ENVIRONMENTS)}. Sets the issuer and the wallet URL.",
    ).tag(config=True)

    @validate("environment")
    def _validate_environment(self, proposal):
        if proposal.value not in ENVIRONMENTS:
            raise ValueError(
                f"ProSanteConnectAuthenticator.environment {proposal.value!r} is unknown; "
                f"write one of {', '.join(ENVIRONMENTS)}"
            )
        return proposal.value

    @default("issuer")
    def _default_issuer(self):
        return ENVIRONMENTS[self.environment][0]

    @default("authorize_url")
    def _default_authorize_url(self):
        # Only for PSC's own issuer: a test or another PSC-like provider keeps its discovery.
        issuer, wallet = ENVIRONMENTS[self.environment]
        return wallet if self.issuer == issuer else ""

    @default("login_service")
    def _default_login_service(self):
        return "Pro Santé Connect"

    @default("scope")
    def _default_scope(self):
        return ["openid", "scope_all"]

    @default("username_claim")
    def _default_username_claim(self):
        # The national professional identifier (RPPS/ADELI based), also sent as SubjectNameID.
        return _national_id

    @default("usernames_are_permanent")
    def _default_usernames_are_permanent(self):
        # The national id is given to one professional and never to anyone else: a hub user
        # an admin made under it is that person's.
        return True

    @default("required_acr")
    def _default_required_acr(self):
        return "eidas1"

    @default("acr_levels")
    def _default_acr_levels(self):
        return ["eidas1", "eidas2", "eidas3"]

    @default("acr_refusal_message")
    def _default_acr_refusal_message(self):
        return (
            "Pro Santé Connect reported a login at level {acr}; this hub needs level {required} "
            "or stronger. Please log in again with the e-CPS app or your CPS card."
        )


def _national_id(claims: dict) -> str | None:
    """`preferred_username`, else `SubjectNameID`: both carry the national professional id."""
    return claims.get("preferred_username") or claims.get("SubjectNameID")
