"""The authenticator's own security checks, each tried and broken with fakes for HTTP and handler."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jupyterhub import orm
from traitlets.config import Config

from jupyter_hds import events
from jupyter_hds.oidc import HDSOIDCAuthenticator
from jupyter_hds.oidc.discovery import ProviderMetadata
from jupyter_hds.oidc.errors import LoginError

ISSUER = "https://login.example.org/realms/hds"
CLIENT = "hub"
METADATA = ProviderMetadata(
    issuer=ISSUER,
    authorization_endpoint=f"{ISSUER}/auth",
    token_endpoint=f"{ISSUER}/token",
    jwks_uri=f"{ISSUER}/certs",
    userinfo_endpoint=f"{ISSUER}/userinfo",
)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {
    "keys": [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1"},
    ]
}


def authenticator(**settings) -> HDSOIDCAuthenticator:
    config = Config()
    config.HDSOIDCAuthenticator.issuer = ISSUER
    config.HDSOIDCAuthenticator.client_id = CLIENT
    config.HDSOIDCAuthenticator.client_secret = "secret"
    for name, value in settings.items():
        setattr(config.HDSOIDCAuthenticator, name, value)
    return HDSOIDCAuthenticator(config=config)


def model(name, groups):
    return {"name": name, "admin": None, "auth_state": {"oauth_user": {"groups": groups}}}


def fake_user(name, auth_state):
    async def get_auth_state():
        return auth_state

    return SimpleNamespace(name=name, get_auth_state=get_auth_state)


def returning(value):
    async def fake(*args, **kwargs):
        return value

    return fake


# Refresh ---------------------------------------------------------------------------------------

LOGGED_IN = {"id_token_claims": {"sub": "s-1"}, "token_response": {"access_token": "a"}}


@pytest.mark.parametrize(
    ("groups", "still_in"), [(["hds-users"], True), (["another-service"], False), (None, False)]
)
def test_refresh_asks_for_a_new_login_once_the_claims_no_longer_allow(groups, still_in):
    auth = authenticator(allowed_provider_groups={"hds-users"})
    refreshed = model("bob", groups)
    auth._refreshed_model = returning(refreshed)
    result = asyncio.run(auth.refresh_user(fake_user("bob", LOGGED_IN)))
    assert result == (refreshed if still_in else False)


def hook_answering(answer, calls):
    async def hook(authenticator, user, auth_state):
        calls.append((authenticator, user.name, auth_state))
        return answer

    return hook


REFRESHED = model("bob", ["hds-users"])
HOOK_MODEL = {"name": "bob", "auth_state": {"from": "the hook"}}


@pytest.mark.parametrize(
    ("answer", "auth_state", "result"),
    [
        (True, None, True),  # keeps a login the default ends (no auth state)
        (False, LOGGED_IN, False),  # ends a login the default keeps
        (HOOK_MODEL, LOGGED_IN, HOOK_MODEL),
        (None, LOGGED_IN, REFRESHED),  # None: the default refresh decides
        (None, None, False),
    ],
)
def test_refresh_user_hook_is_called_as_oauthenticator_does(answer, auth_state, result):
    calls = []
    auth = authenticator(
        allowed_provider_groups={"hds-users"}, refresh_user_hook=hook_answering(answer, calls)
    )
    auth._refreshed_model = returning(REFRESHED)
    assert asyncio.run(auth.refresh_user(fake_user("bob", auth_state))) == result
    assert calls == [(auth, "bob", auth_state)]


# The hosting team group ------------------------------------------------------------------------


class FakeHandler:
    """What sync_staff_group uses of a hub handler, on a real (in-memory) hub database."""

    def __init__(self):
        self.db = orm.new_session_factory("sqlite:///:memory:")()

    def user_from_username(self, name):
        user = orm.User.find(self.db, name)
        if user is None:
            user = orm.User(name=name)
            self.db.add(user)
            self.db.commit()
        return SimpleNamespace(orm_user=user)


def members(handler, group="hds-admins"):
    return {user.name for user in orm.Group.find(handler.db, group).users}


@pytest.fixture
def recorded():
    seen = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)


def test_staff_removed_from_the_admin_group_at_the_provider_leave_the_hub_group(recorded):
    auth = authenticator(admin_provider_groups={"hds-admins"})
    handler = FakeHandler()
    auth.sync_staff_group(handler, model("ada", ["hds-admins"]))
    auth.sync_staff_group(handler, model("bob", ["hds-admins"]))
    assert members(handler) == {"ada", "bob"}

    auth.sync_staff_group(handler, model("ada", ["hds-users"]))
    assert members(handler) == {"bob"}
    assert orm.User.find(handler.db, "ada") is not None  # leaves the group, stays a user
    last = recorded[-1]
    assert (last.action, last.target, last.details["user"]) == (
        "group.members.remove",
        "hds-admins",
        "ada",
    )
    assert last.actor == f"provider:{ISSUER}" and last.outcome == "succeeded"

    auth.sync_staff_group(handler, model("ada", []))  # already out: nothing to record
    assert members(handler) == {"bob"} and len(recorded) == 3


# Userinfo and ID token at login ----------------------------------------------------------------


def userinfo_answer(claims):
    async def httpfetch(url, **kwargs):
        assert url.startswith(METADATA.userinfo_endpoint)
        return SimpleNamespace(
            headers={"Content-Type": "application/json; charset=utf-8"},
            body=json.dumps(claims).encode(),
        )

    return httpfetch


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"sub": "s-1", "email": "ana@example.org"}, True),
        ({"sub": "s-2", "email": "ana@example.org"}, False),
        ({"email": "ana@example.org"}, False),
        (["s-1"], False),
    ],
)
def test_json_userinfo_about_another_subject_is_refused(claims, accepted):
    auth = authenticator()
    auth.httpfetch = userinfo_answer(claims)
    fetch = auth.fetch_userinfo(METADATA, {"access_token": "a"}, "s-1")
    if accepted:
        assert asyncio.run(fetch) == claims
        return
    with pytest.raises(LoginError) as refused:
        asyncio.run(fetch)
    assert refused.value.failure == "userinfo_invalid"


class LoginHandler:
    """The callback handler as authenticate() sees it: the nonce kept for this login."""

    def __init__(self, nonce):
        self._nonce = nonce

    def nonce(self):
        return self._nonce

    def find_user(self, name):
        return None


def id_token(**changes):
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "s-1", "aud": CLIENT, "exp": now + 300, "iat": now}
    claims.update(changes)
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


def login_with(token):
    auth = authenticator()
    auth.provider_metadata = returning(METADATA)
    auth.build_access_tokens_request_params = lambda handler, data=None: {"code": "c"}
    auth.token_request = returning({"access_token": "a", "id_token": token})
    auth._jwks = returning(JWKS)
    auth.auth_model = lambda metadata, token_info, id_claims, expires_at: returning(
        {"name": "ana", "user_info": {}, "id_claims": id_claims}
    )()
    return asyncio.run(auth.authenticate(LoginHandler("nonce-of-this-login")))


def test_id_token_with_this_logins_nonce_logs_in():
    assert login_with(id_token(nonce="nonce-of-this-login"))["id_claims"]["sub"] == "s-1"


@pytest.mark.parametrize("nonce", ["nonce-of-another-login", "", None])
def test_id_token_with_another_nonce_is_refused(nonce):
    token = id_token(nonce=nonce) if nonce is not None else id_token()
    with pytest.raises(LoginError) as refused:
        login_with(token)
    assert refused.value.failure == "id_token_invalid"
    assert "nonce" in refused.value.detail
