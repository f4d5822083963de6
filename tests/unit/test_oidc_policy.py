"""Who gets in: acr levels, provider groups, admin rights, config errors that say the fix."""

from __future__ import annotations

import asyncio

import pytest
from jupyterhub import orm
from traitlets.config import Config

from jupyter_hds.oidc import HDSOIDCAuthenticator, ProSanteConnectAuthenticator
from jupyter_hds.oidc import groups as oidc_groups
from jupyter_hds.oidc.acr import AcrTooWeak, check_acr
from jupyter_hds.oidc.claims import provider_groups
from jupyter_hds.oidc.errors import LoginError

PSC_LEVELS = ["eidas1", "eidas2", "eidas3"]


@pytest.mark.parametrize(
    ("acr", "accepted"),
    [("eidas1", True), ("eidas2", True), ("eidas3", True), ("eidas0", False), (None, False),
     ("", False), (["eidas2"], False), ("EIDAS2", False)],
)  # fmt: skip
def test_acr_eidas1_and_stronger(acr, accepted):
    if accepted:
        assert check_acr(acr, PSC_LEVELS, "eidas1") == acr
    else:
        with pytest.raises(AcrTooWeak):
            check_acr(acr, PSC_LEVELS, "eidas1")


def test_acr_minimum_above_the_weakest():
    with pytest.raises(AcrTooWeak):
        check_acr("eidas1", PSC_LEVELS, "eidas2")


@pytest.mark.parametrize(
    ("claims", "path", "groups"),
    [
        ({"groups": ["a", "/b"]}, "groups", {"a", "b"}),
        ({"groups": "a"}, "groups", {"a"}),
        ({"realm_access": {"roles": ["hds-admins"]}}, "realm_access.roles", {"hds-admins"}),
        ({"groups": [1, None, "/", "c"]}, "groups", {"c"}),
        ({}, "groups", set()),
        ({"groups": {"a": 1}}, "groups", set()),
    ],
)
def test_provider_groups_from_claims(claims, path, groups):
    assert provider_groups(claims, path) == groups


def authenticator(**settings):
    config = Config()
    for name, value in settings.items():
        setattr(config.HDSOIDCAuthenticator, name, value)
    config.HDSOIDCAuthenticator.setdefault("issuer", "https://login.example.org/realms/hds")
    config.HDSOIDCAuthenticator.setdefault("client_id", "hub")
    config.HDSOIDCAuthenticator.setdefault("client_secret", "secret")
    return HDSOIDCAuthenticator(config=config)


def model(name, groups, admin=None):
    return {"name": name, "admin": admin, "auth_state": {"oauth_user": {"groups": groups}}}


def allowed(auth, name, groups):
    """Whether `name` may log in with these provider groups, and whether they are staff after."""
    db = orm.new_session_factory("sqlite:///:memory:")()
    user = orm.User(name=name)
    db.add(user)
    db.commit()

    async def check():
        m = model(name, groups, admin=True if name in auth.admin_users else None)
        try:
            allowed = await auth.check_allowed(name, m)
        except LoginError as error:
            assert error.failure == "not_allowed" and error.actor == name
            allowed = False
        oidc_groups.apply(auth, db, user, m)
        staff = orm.Group.find(db, "hds-admins")
        return allowed, (user in staff.users) if staff else None

    return asyncio.run(check())


USERS = {"allowed_provider_groups": {"hds-users"}}
ADMINS = {"admin_provider_groups": {"hds-admins"}}


@pytest.mark.parametrize(
    ("case_id", "settings", "name", "groups", "expected"),
    [
        ("member of an allowed group", USERS, "ana", ["hds-users"], (True, None)),
        ("not a member", USERS, "bob", ["other"], (False, None)),
        ("no claim at all", USERS, "bob", None, (False, None)),
        ("listed user", {"allowed_users": {"bob"}}, "bob", [], (True, None)),
        ("admin group joins the staff", ADMINS, "ada", ["hds-admins"], (True, True)),
        ("staff revoked", {**ADMINS, "allowed_users": {"ada"}}, "ada", [], (True, False)),
        ("nothing configured", {}, "eve", ["hds-users"], (False, None)),
    ],
)
def test_who_may_log_in_and_who_is_staff(case_id, settings, name, groups, expected):
    assert allowed(authenticator(**settings), name, groups) == expected


def test_project_groups_sync_keeps_only_prefixed_groups():
    auth = authenticator(manage_groups=True, project_groups_prefix="hds-project-")
    state = {"oauth_user": {"groups": ["hds-project-cohort-2024", "hds-admins", "hds-project-"]}}
    assert asyncio.run(auth.get_user_groups(state)) == {"cohort-2024"}


@pytest.mark.parametrize(
    ("case_id", "settings", "message"),
    [
        ("no issuer", {"issuer": ""}, "issuer is not set"),
        ("no secret", {"client_secret": ""}, "client_id and"),
        ("unknown minimum acr", {"required_acr": "loa3", "acr_levels": ["loa1"]}, "add it to"),
    ],
)
def test_missing_settings_stop_the_hub_with_the_fix(case_id, settings, message):
    with pytest.raises(ValueError, match=message):
        authenticator(**settings).check_allow_config()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("issuer", "http://login.example.org", "https"),
        ("id_token_algorithms", ["HS256"], "choose among"),
        ("id_token_algorithms", [], "choose among"),
        ("authorize_url", "http://login.example.org/auth", r"authorize_url: .*https"),
        ("token_url", "http://login.example.org/token", r"token_url: .*https"),
        ("userdata_url", "http://login.example.org/userinfo", r"userdata_url: .*https"),
        ("jwks_url", "http://login.example.org/certs", r"jwks_url: .*https"),
        ("end_session_url", "http://login.example.org/logout", r"end_session_url: .*https"),
        ("token_url", "ftp://127.0.0.1/token", r"token_url: .*https"),
    ],
)
def test_unsafe_values_are_refused_when_set(name, value, message):
    """Refused when the config is read, or at the latest when the hub starts."""
    with pytest.raises(Exception, match=message):
        authenticator(**{name: value}).check_allow_config()


def test_prosante_preset_defaults():
    psc = ProSanteConnectAuthenticator(config=Config())
    assert psc.issuer.startswith("https://auth.esw.esante.gouv.fr/")
    assert psc.authorize_url == "https://wallet.esw.esante.gouv.fr/auth"
    assert psc.scope == ["openid", "scope_all"] and psc.required_acr == "eidas1"
    assert psc.usernames_are_permanent  # the national professional id is never reassigned
    assert psc.user_info_to_username({"SubjectNameID": "810000000011"}) == "810000000011"
    sandbox = Config()
    sandbox.ProSanteConnectAuthenticator.environment = "sandbox"
    assert "bas.esw" in ProSanteConnectAuthenticator(config=sandbox).issuer
    local = Config()
    local.ProSanteConnectAuthenticator.issuer = "http://127.0.0.1:8100"
    assert ProSanteConnectAuthenticator(config=local).authorize_url == ""  # discovery then
    with pytest.raises(Exception, match="write one of"):
        bad = Config()
        bad.ProSanteConnectAuthenticator.environment = "prod"
        ProSanteConnectAuthenticator(config=bad)
