"""The authenticator inside oauthenticator's own flow, against a fake provider: each check broken.

oauthenticator runs `authenticate` and `refresh_user`; only the provider's HTTP answers are
faked (the authenticator's `httpfetch`), so these tests go through the hooks as the hub does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jupyterhub import orm
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_hds import events
from jupyter_hds.oidc import HDSOIDCAuthenticator, groups, identity
from jupyter_hds.oidc.errors import LoginError
from jupyter_hds.oidc.tokens import login_nonce, pkce_challenge

ISSUER = "https://login.example.org/realms/hds"
CLIENT = "hub"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/auth",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/certs",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [{**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1"}]}
VERIFIER = "a-pkce-verifier-kept-in-the-signed-state-cookie-0123456789"
NONCE = login_nonce(pkce_challenge(VERIFIER))


def id_token(**changes):
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "s-1", "aud": CLIENT, "exp": now + 300, "iat": now}
    claims.update(changes)
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


class FakeProvider:
    """The provider's web answers, as the authenticator's `httpfetch` gets them."""

    def __init__(self):
        self.userinfo = {"sub": "s-1", "preferred_username": "ana", "groups": ["hds-users"]}
        self.valid_access_tokens: set[str] = set()
        self.id_token_claims = {"nonce": NONCE}
        self.token_status = 200
        self.grants: list[str] = []
        self.down = False

    async def httpfetch(self, url, label="", parse_json=True, **kwargs):
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        path = url[len(ISSUER) :].split("?")[0]
        if path == "/token":
            return self.token(kwargs["body"])
        if path == "/userinfo":
            bearer = kwargs["headers"]["Authorization"].split()[-1]
            if bearer not in self.valid_access_tokens:
                raise HTTPClientError(401)
        document = {"/.well-known/openid-configuration": DISCOVERY, "/certs": JWKS}
        return answer(document.get(path, self.userinfo))

    def token(self, body):
        grant = dict(pair.split("=", 1) for pair in body.split("&"))["grant_type"]
        self.grants.append(grant)
        if self.token_status != 200:
            error = {"error": "invalid_grant"}
            raise HTTPClientError(self.token_status, response=answer(error, self.token_status))
        n = len(self.grants)
        tokens = {"access_token": f"a-{n}", "token_type": "Bearer", "expires_in": 300}
        self.valid_access_tokens.add(tokens["access_token"])
        tokens.update(refresh_token=f"r-{n}", id_token=id_token(**self.id_token_claims))
        return answer(tokens)


def answer(document, code=200):
    body = json.dumps(document).encode()
    return SimpleNamespace(code=code, body=body, headers={"Content-Type": "application/json"})


def authenticator(provider, **settings) -> HDSOIDCAuthenticator:
    config = Config()
    config.HDSOIDCAuthenticator.issuer = ISSUER
    config.HDSOIDCAuthenticator.client_id = CLIENT
    config.HDSOIDCAuthenticator.client_secret = "secret"
    config.HDSOIDCAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
    config.HDSOIDCAuthenticator.allowed_users = {"ana"}
    for name, value in settings.items():
        setattr(config.HDSOIDCAuthenticator, name, value)
    auth = HDSOIDCAuthenticator(config=config)
    auth.httpfetch = provider.httpfetch
    return auth


class Callback:
    """The callback handler as oauthenticator's authenticate reads it: code and state cookie."""

    def get_argument(self, name, default=None):
        return {"code": "the-code"}.get(name, default)

    def get_state_cookie(self):
        state = {"state_id": "s", "code_verifier": VERIFIER}
        return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def login(auth):
    return asyncio.run(auth.authenticate(Callback()))


class FakeUser:
    def __init__(self, name, auth_state, servers=()):
        self.name, self.auth_state = name, auth_state
        self.spawners = {s: SimpleNamespace(active=True, pending=None) for s in servers}
        self.orm_user = SimpleNamespace(name=name, groups=[])

    async def get_auth_state(self):
        return self.auth_state


class StoppingHandler:
    """What refresh_user uses of a hub handler when the provider refuses: stopping servers."""

    db = None  # no group to sync in these tests

    def __init__(self):
        self.stopped = []

    async def stop_single_user(self, user, name):
        self.stopped.append((user.name, name))


def refresh(auth, auth_state, handler=None):
    return asyncio.run(auth.refresh_user(FakeUser("ana", auth_state, ["cohort"]), handler))


# Login -----------------------------------------------------------------------------------------


def test_login_is_oauthenticators_flow_with_the_id_token_verified():
    provider = FakeProvider()
    model = login(authenticator(provider))
    assert model["name"] == "ana" and provider.grants == ["authorization_code"]
    state = model["auth_state"]
    assert state["id_token_claims"]["nonce"] == NONCE and state["refresh_token"] == "r-1"
    assert state["oauth_user"]["groups"] == ["hds-users"]  # userinfo's claims
    assert state["expires_at"] == pytest.approx(time.time() + 300, abs=5)
    digest = identity.subject_digest(ISSUER, "s-1")
    assert model["user_info"] == {identity.SUBJECT_KEY: digest}


@pytest.mark.parametrize("nonce", ["nonce-of-another-login", "", None])
def test_id_token_with_another_nonce_is_refused(nonce):
    provider = FakeProvider()
    provider.id_token_claims = {"nonce": nonce} if nonce is not None else {}
    with pytest.raises(LoginError) as refused:
        login(authenticator(provider))
    assert refused.value.failure == "id_token_invalid" and "nonce" in refused.value.detail


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"sub": "s-1", "preferred_username": "ana"}, True),
        ({"sub": "s-2", "preferred_username": "ana"}, False),
        ({"preferred_username": "ana"}, False),
        (["s-1"], False),
    ],
)
def test_json_userinfo_about_another_subject_is_refused(claims, accepted):
    provider = FakeProvider()
    provider.userinfo = claims
    if accepted:
        assert login(authenticator(provider))["name"] == "ana"
        return
    with pytest.raises(LoginError) as refused:
        login(authenticator(provider))
    assert refused.value.failure == "userinfo_invalid"


def test_a_refused_code_and_a_missing_user_name_say_which():
    provider = FakeProvider()
    provider.token_status = 400
    with pytest.raises(LoginError) as refused:
        login(authenticator(provider))
    assert refused.value.failure == "code_rejected"
    provider = FakeProvider()
    provider.userinfo = {"sub": "s-1"}
    with pytest.raises(LoginError) as refused:
        login(authenticator(provider))
    assert refused.value.failure == "username_missing"


# Refresh ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "still_in"), [(["hds-users"], True), (["another-service"], False), (None, False)]
)
def test_refresh_asks_for_a_new_login_once_the_claims_no_longer_allow(groups, still_in):
    provider = FakeProvider()
    auth = authenticator(provider, allowed_provider_groups={"hds-users"}, allowed_users=set())
    state = login(auth)["auth_state"]
    provider.userinfo = {**provider.userinfo, "groups": groups}
    handler = StoppingHandler()
    result = refresh(auth, state, handler)
    if still_in:
        assert result["auth_state"]["oauth_user"]["groups"] == groups
        assert handler.stopped == []
    else:
        assert result is False
        assert handler.stopped == [("ana", "cohort")]  # the provider refused: servers stop


def test_an_expired_access_token_is_renewed_for_the_same_person_only():
    provider = FakeProvider()
    auth = authenticator(provider)
    state = login(auth)["auth_state"]
    assert refresh(auth, state)["auth_state"]["access_token"] == "a-1"  # still good
    provider.valid_access_tokens.clear()  # expired: the refresh token renews it
    provider.id_token_claims = {}  # a renewal's ID token carries no nonce
    renewed = refresh(auth, state)
    assert provider.grants == ["authorization_code", "refresh_token"]
    assert renewed["auth_state"]["access_token"] == "a-2"
    assert renewed["auth_state"]["id_token_claims"]["sub"] == "s-1"
    assert renewed["auth_state"]["expires_at"] > state["expires_at"]
    provider.valid_access_tokens.clear()
    provider.id_token_claims = {"sub": "someone-else"}
    assert refresh(auth, state) is False  # a renewal for another subject


def test_a_refresh_token_the_provider_rejects_ends_the_login_and_stops_the_servers():
    provider = FakeProvider()
    auth = authenticator(provider)
    state = login(auth)["auth_state"]
    provider.valid_access_tokens.clear()
    provider.token_status = 400
    handler = StoppingHandler()
    assert refresh(auth, state, handler) is False
    assert handler.stopped == [("ana", "cohort")]


def test_a_provider_outage_keeps_a_valid_login_and_stops_nothing():
    provider = FakeProvider()
    auth = authenticator(provider)
    state = login(auth)["auth_state"]
    auth.oidc.provider._metadata_time = float(
        "-inf"
    )  # the discovery document must be fetched again
    provider.down = True
    handler = StoppingHandler()
    assert refresh(auth, state, handler) is True
    assert refresh(auth, {**state, "expires_at": time.time() - 1}, handler) is False
    assert handler.stopped == []


def hook_answering(answer, calls):
    async def hook(authenticator, user, auth_state):
        calls.append((authenticator, user.name, auth_state))
        return answer

    return hook


HOOK_MODEL = {"name": "ana", "auth_state": {"from": "the hook"}}


@pytest.mark.parametrize(
    ("answer", "logged_in", "result"),
    [
        (True, False, True),  # keeps a login the default ends (no auth state)
        (False, True, False),  # ends a login the default keeps
        (HOOK_MODEL, True, HOOK_MODEL),
        (None, True, "refreshed"),  # None: the default refresh decides
        (None, False, False),
    ],
)
def test_refresh_user_hook_is_called_as_oauthenticator_does(answer, logged_in, result):
    calls = []
    provider = FakeProvider()
    auth = authenticator(provider, refresh_user_hook=hook_answering(answer, calls))
    state = login(auth)["auth_state"] if logged_in else None
    refreshed = refresh(auth, state)
    if result == "refreshed":
        assert refreshed["auth_state"]["access_token"] == "a-1"
    else:
        assert refreshed == result
    assert calls == [(auth, "ana", state)]


# Groups ----------------------------------------------------------------------------------------


@pytest.fixture
def db():
    return orm.new_session_factory("sqlite:///:memory:")()


def hub_user(db, name, *group_names):
    user = orm.User(name=name)
    db.add(user)
    for group_name in group_names:
        group = orm.Group.find(db, group_name) or orm.Group(name=group_name)
        db.add(group)
        user.groups.append(group)
    db.commit()
    return user


def members(db, group):
    found = orm.Group.find(db, group)
    return {user.name for user in found.users} if found else set()


@pytest.fixture
def recorded():
    seen = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)


def model(name, provider_groups):
    return {"name": name, "admin": None, "auth_state": {"oauth_user": {"groups": provider_groups}}}


def test_staff_removed_from_the_admin_group_at_the_provider_leave_the_hub_group(db, recorded):
    auth = authenticator(FakeProvider(), admin_provider_groups={"hds-admins"})
    ada, bob = hub_user(db, "ada"), hub_user(db, "bob")
    groups.apply(auth, db, ada, model("ada", ["hds-admins"]))
    groups.apply(auth, db, bob, model("bob", ["hds-admins"]))
    assert members(db, "hds-admins") == {"ada", "bob"}

    groups.apply(auth, db, ada, model("ada", ["hds-users"]))
    assert members(db, "hds-admins") == {"bob"}
    assert orm.User.find(db, "ada") is not None  # leaves the group, stays a user
    last = recorded[-1]
    assert (last.action, last.target, last.details["user"]) == (
        "group.members.remove",
        "hds-admins",
        "ada",
    )
    assert last.actor == f"provider:{ISSUER}" and last.outcome == "succeeded"

    groups.apply(auth, db, ada, model("ada", []))  # already out: nothing to record
    assert members(db, "hds-admins") == {"bob"} and len(recorded) == 3


def give_role(db, role_name, group_name):
    role = orm.Role(name=role_name, scopes=["read:hub"])
    db.add(role)
    role.groups.append(orm.Group.find(db, group_name) or orm.Group(name=group_name))
    db.commit()


@pytest.mark.parametrize(
    ("case_id", "opted_in", "hub_groups", "provider", "expected"),
    [
        ("a project from the provider", set(), [], ["cohort"], ["cohort"]),
        ("auditors never from the provider", set(), [], ["auditors", "cohort"], ["cohort"]),
        ("staff never from the provider", set(), [], ["hds-admins"], []),
        ("nor taken away by it", set(), ["auditors", "old"], ["cohort"], ["auditors", "cohort"]),
        ("unless the operator says so", {"auditors"}, [], ["auditors"], ["auditors"]),
        ("then the provider removes too", {"auditors"}, ["auditors"], [], []),
    ],
)
def test_provider_groups_never_grant_a_role_the_operator_did_not_hand_over(
    db, recorded, case_id, opted_in, hub_groups, provider, expected
):
    auth = authenticator(FakeProvider(), manage_groups=True, provider_role_groups=opted_in)
    give_role(db, "auditor", "auditors")
    give_role(db, "hds-admin", "hds-admins")
    user = hub_user(db, "mallory", *hub_groups)
    auth_model = {**model("mallory", provider), "groups": provider}
    groups.apply(auth, db, user, auth_model)
    assert auth_model["groups"] == expected
    added = {e.target for e in recorded if e.action == "group.members.add"}
    assert added == set(expected) - set(hub_groups)


# Which account a hub user is ---------------------------------------------------------------------

SUB, OTHER = identity.subject_digest(ISSUER, "s-1"), identity.subject_digest(ISSUER, "s-2")
MAIL = identity.email_digest("Ana@Example.org")
VERIFIED = {"email": "ana@example.org", "email_verified": True}


@pytest.mark.parametrize(
    ("case_id", "user_info", "claims", "vouched", "failure"),
    [
        ("bound to this account", {identity.SUBJECT_KEY: SUB}, {}, False, None),
        ("bound to another", {identity.SUBJECT_KEY: OTHER}, {}, True, "identity_mismatch"),
        ("subject recorded", {"oidc_expected_subject": SUB}, {}, False, None),
        ("another subject recorded", {"oidc_expected_subject": OTHER}, {}, True,
         "identity_mismatch"),
        ("e-mail recorded and verified", {"oidc_expected_email": MAIL}, VERIFIED, False, None),
        ("e-mail not verified", {"oidc_expected_email": MAIL},
         {**VERIFIED, "email_verified": False}, True, "identity_unconfirmed"),
        ("another e-mail", {"oidc_expected_email": MAIL},
         {**VERIFIED, "email": "eve@example.org"}, True, "identity_unconfirmed"),
        ("nothing recorded, a trusted group", None, {}, True, None),
        ("nothing recorded, only the name", None, VERIFIED, False, "identity_unconfirmed"),
        ("an empty hub user, only the name", None, VERIFIED, "holds nothing", None),
    ],
)  # fmt: skip
def test_a_prepared_hub_user_goes_only_to_the_account_recorded_for_it(
    case_id, user_info, claims, vouched, failure
):
    holds = vouched != "holds nothing"
    problem = identity.claim_problem(
        "ana", user_info, SUB, claims, vouched=vouched is True, holds_access=holds
    )
    assert (problem.failure if problem else None) == failure
