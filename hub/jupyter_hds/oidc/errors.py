"""Why a login failed: a stable code for the audit record and a sentence for the person."""

from __future__ import annotations

from tornado import web

# code -> what the person logging in reads; {detail} is filled from the failure when given.
MESSAGES = {
    "state_mismatch": (
        "This login did not start in this browser, or it took too long. Please log in again."
    ),
    "provider_error": "The identity provider did not complete the login ({detail}).",
    "issuer_mismatch": (
        "The answer to this login did not come from the hub's identity provider, so the login "
        "was refused. Please log in again."
    ),
    "code_rejected": (
        "The identity provider did not accept this login: its one-time code was already used "
        "or has expired. Please log in again."
    ),
    "id_token_invalid": (
        "The identity provider's answer could not be verified ({detail}), so the login was "
        "refused. If this happens again, tell the hub's administrators."
    ),
    "userinfo_invalid": (
        "The identity provider's description of your account could not be verified ({detail}), "
        "so the login was refused."
    ),
    "provider_unreachable": (
        "The identity provider cannot be reached right now. Please try again in a few minutes; "
        "if it lasts, tell the hub's administrators."
    ),
    "provider_misconfigured": (
        "The hub cannot use its identity provider ({detail}). Tell the hub's administrators."
    ),
    "acr_too_weak": "{detail}",
    "username_missing": (
        "The identity provider did not send your user name ({detail}). "
        "Tell the hub's administrators."
    ),
    "identity_mismatch": (
        "This user name belongs to another account at the identity provider, so the login was "
        "refused. Tell the hub's administrators."
    ),
    "identity_unconfirmed": (
        "The hub's administrators prepared an account under this user name but have not recorded "
        "that this login is yours ({detail}), so the login was refused. Ask them to record your "
        "e-mail address or your identifier at the identity provider."
    ),
    "not_allowed": "{detail}",
    "internal_error": (
        "The login failed because of an error in the hub. It has been logged; please try again, "
        "and tell the hub's administrators if it lasts."
    ),
}
STATUS = {
    "not_allowed": 403,
    "identity_mismatch": 403,
    "identity_unconfirmed": 403,
    "acr_too_weak": 403,
}


class LoginError(web.HTTPError):
    """A login that cannot complete.

    `failure` is a stable code from MESSAGES (auditors filter on it), `detail` says precisely
    what went wrong, `actor` is the user name when it is known by then.
    """

    def __init__(self, failure: str, detail: str = "", *, actor: str | None = None):
        if failure not in MESSAGES:
            raise ValueError(f"unknown login failure {failure!r}; known: {', '.join(MESSAGES)}")
        self.failure = failure
        self.detail = detail
        self.actor = actor
        message = MESSAGES[failure].format(detail=detail or "no detail given")
        super().__init__(STATUS.get(failure, 400), message, reason="Login failed")
