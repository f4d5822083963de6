"""Which provider account a hub user is: recorded by an admin beforehand, bound at first login.

A hub user made before its first login (admin panel, `hds project create --member`, the REST
API, `load_groups`) may already be a member of projects, so the first login into it must be
the person the admin meant, not whichever provider account first sends that user name:

- the admin recorded the person's subject (`sub`): the login must carry it;
- or their e-mail address: the provider must send it, marked verified (`email_verified`);
- or nothing: if the hub user already holds access (a group, a role), the provider must vouch
  for the account through a group the operator trusts (`allowed_provider_groups`,
  `admin_provider_groups`), or its user names must be permanent identifiers
  (`usernames_are_permanent`, Pro Santé Connect's national ids). Being allowed only because
  the hub user exists (`allow_existing_users`), or by name (`allowed_users`), or `allow_all`,
  is not proof. A hub user that holds nothing (JupyterHub makes one for each name in
  `allowed_users`) gives no more than one made at the login, and is taken like one.

The first login then binds the hub user to a digest of (issuer, `sub`); later logins must
carry the same subject. `PUT /hub/api/hds/users/<name>` is where an admin records it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from jupyterhub.utils import maybe_future
from tornado import web

from .errors import LoginError

# Keys of the hub user's `user_info` (the hub database, readable with the user's name):
# digests, never the subject or the address themselves.
SUBJECT_KEY = "oidc_subject"  # bound: set by the first login
EXPECTED = {"subject": "oidc_expected_subject", "email": "oidc_expected_email"}  # by an admin
PEOPLE_PATH = r"/api/hds/users/([^/]+)"


def subject_digest(issuer: str, subject: str) -> str:
    """Who this hub user is at the provider, as a digest of (issuer, sub)."""
    return hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def verified_email(claims: Mapping[str, Any]) -> str | None:
    """The login's e-mail address when the provider vouches for it, else None."""
    email, verified = claims.get("email"), claims.get("email_verified")
    if isinstance(email, str) and email and verified in (True, "true"):
        return email
    return None


def claim_problem(
    name: str,
    user_info: Mapping[str, Any] | None,
    subject: str,
    claims: Mapping[str, Any],
    *,
    vouched: bool,
    holds_access: bool = True,
) -> LoginError | None:
    """Why a login (its subject digest, its claims) may not become the existing hub user `name`."""
    info = user_info or {}
    if info.get(SUBJECT_KEY) or info.get(EXPECTED["subject"]):
        if subject in (info.get(SUBJECT_KEY), info.get(EXPECTED["subject"])):
            return None
        detail = f"hub user {name!r} is bound to another provider account"
        return LoginError("identity_mismatch", detail, actor=name)
    if info.get(EXPECTED["email"]):
        email = verified_email(claims)
        if email and email_digest(email) == info[EXPECTED["email"]]:
            return None
        detail = "the provider did not send, as verified, the e-mail address recorded for it"
        return LoginError("identity_unconfirmed", detail, actor=name)
    if vouched or not holds_access:
        return None  # an empty hub user gives no more than one made at this login
    detail = "nothing was recorded to tell which login is theirs"
    return LoginError("identity_unconfirmed", detail, actor=name)


def check_first_login(auth, user, auth_model: dict) -> None:
    """Refuse a login into the existing hub user `user` (or None) that is not theirs."""
    if user is None:
        return
    bound = (user.user_info or {}).get(SUBJECT_KEY)
    if bound and not auth.bind_username_to_subject:
        return  # migrating providers: bindings are not checked
    problem = claim_problem(
        user.name,
        user.user_info,
        auth_model["user_info"][SUBJECT_KEY],
        auth_model["auth_state"][auth.user_auth_state_key],
        vouched=auth.usernames_are_permanent or auth.vouched(auth_model),
        holds_access=holds_access(user.orm_user),
    )
    if problem is not None:
        raise problem


def holds_access(user) -> bool:
    """Whether an orm user already holds something a login would inherit: a group, a role."""
    return bool(user.groups) or any(role.name != "user" for role in user.roles)


def record(body: Any, issuer: str) -> dict[str, str]:
    """The `user_info` an admin's request records: {"subject": ...}, {"email": ...} or nothing."""
    if body in (None, {}):
        return {}
    if not isinstance(body, dict) or len(body) != 1 or not set(body) <= set(EXPECTED):
        raise web.HTTPError(
            400, 'send {"email": "<address>"} or {"subject": "<sub at the provider>"}, or nothing'
        )
    ((kind, value),) = body.items()
    if not isinstance(value, str) or not value.strip() or (kind == "email" and "@" not in value):
        raise web.HTTPError(400, f"{kind} must be a non-empty string")
    digest = subject_digest(issuer, value) if kind == "subject" else email_digest(value)
    return {EXPECTED[kind]: digest}


class PeopleHandler(APIHandler):
    """PUT /hub/api/hds/users/<name>: make a hub user before its first login, saying who it is.

    Body: {"email": ...}, {"subject": ...} or nothing. Creates the user if missing (201), or
    replaces what was recorded (200). A user that has logged in is bound to that account
    (409): delete and re-create it to change who it is. Needs the `users` scope on that user.
    """

    @needs_scope("users")
    async def put(self, user_name):
        recorded = record(self.get_json_body(), getattr(self.authenticator, "issuer", ""))
        user = self.find_user(user_name)
        if user is not None and (user.user_info or {}).get(SUBJECT_KEY):
            raise web.HTTPError(
                409, f"{user_name} has logged in and is bound to that account; delete the user "
                "and add them again to change which login is theirs"
            )  # fmt: skip
        created = user is None
        if created:
            if not self.authenticator.validate_username(user_name):
                raise web.HTTPError(400, f"invalid user name {user_name!r}")
            user = self.user_from_username(user_name)
            await maybe_future(self.authenticator.add_user(user))
        user.orm_user.user_info = recorded
        self.db.commit()
        self.set_status(201 if created else 200)
        kinds = sorted(kind for kind, key in EXPECTED.items() if key in recorded)
        self.write(json.dumps({"name": user.name, "recorded": kinds}))


HANDLERS = [(PEOPLE_PATH, PeopleHandler)]
