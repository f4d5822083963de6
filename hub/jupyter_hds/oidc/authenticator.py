"""OpenID Connect login: oauthenticator's flow, plus discovery and verified ID tokens."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Float, List, Set, Unicode, default, validate

from ..projects import membership
from . import acr as acr_levels
from . import client, groups, identity
from .claims import provider_groups
from .compat import patch_token_authenticated_default
from .discovery import ProviderMisconfigured, check_url
from .errors import LoginError
from .handlers import OIDCCallbackHandler, OIDCLoginHandler, OIDCLogoutHandler
from .tokens import ASYMMETRIC_ALGORITHMS, expired, expiry, login_nonce, pkce_challenge

# Kept in auth state next to oauthenticator's keys, and in a fresh token response.
ID_CLAIMS, EXPIRES_AT = "id_token_claims", "expires_at"
patch_token_authenticated_default()


@dataclass
class Refresh:
    """The login being refreshed (its auth state), and why the provider refused it, if it did."""

    previous: dict[str, Any]
    refused: str | None = None


# Set while oauthenticator's refresh_user runs: its hooks only see a token response.
_refreshing: ContextVar[Refresh | None] = ContextVar("hds_oidc_refreshing", default=None)


class HDSOIDCAuthenticator(GenericOAuthenticator):
    """Log in with an OpenID Connect provider (Keycloak, LemonLDAP::NG, Pro Santé Connect, ...).

    oauthenticator runs the flow; this adds discovery, verified ID tokens (signature, issuer,
    audience, expiry, nonce), signed userinfo, acr, one provider account per hub user, the
    hosting team's group, and logout at the provider.
    """

    login_handler = OIDCLoginHandler
    callback_handler = OIDCCallbackHandler
    logout_handler = OIDCLogoutHandler

    issuer = Unicode(
        help="""The provider's issuer URL, exactly as its tokens write it (Keycloak:
        https://login.example.org/realms/<realm>). Endpoints come from its discovery document.""",
    ).tag(config=True)
    jwks_url = Unicode(help="The provider's signing keys (JWK Set) URL; empty: discovery.").tag(
        config=True
    )
    end_session_url = Unicode(help="The provider's logout URL; empty: discovery.").tag(config=True)
    id_token_algorithms = List(
        Unicode(),
        default_value=list(ASYMMETRIC_ALGORITHMS),
        help="Signature algorithms accepted on ID tokens and signed userinfo (public-key only).",
    ).tag(config=True)
    clock_skew = Float(60.0, help="Seconds of clock difference allowed on exp and iat.").tag(
        config=True
    )
    discovery_cache_seconds = Float(
        3600.0, help="How long the discovery document and signing keys are kept before a refetch."
    ).tag(config=True)
    required_acr = Unicode(
        help="""Weakest authentication level (`acr`) accepted, sent as `acr_values`; the ID
        token's `acr` must be it or a stronger one of `acr_levels`. Empty: not checked.""",
    ).tag(config=True)
    acr_levels = List(Unicode(), help="The provider's `acr` values, weakest first.").tag(
        config=True
    )
    acr_refusal_message = Unicode(
        "This hub needs a stronger login: level {required} or stronger, and this login was made "
        "at level {acr}. Please log in again with a stronger method.",
        help="What a login at too weak a level reads; {acr} and {required} are filled.",
    ).tag(config=True)
    provider_groups_claim = Unicode(
        "groups",
        help="""Claim (dotted path) listing the person's provider groups; replaces
        oauthenticator's `claim_groups_key` and `auth_state_groups_key` (ignored).""",
    ).tag(config=True)
    allowed_provider_groups = Set(
        Unicode(),
        help="""Members of these provider groups may log in, checked at each login and refresh.
        Hub groups are untouched.""",
    ).tag(config=True, allow_config=True)
    admin_provider_groups = Set(
        Unicode(),
        help="""Members of these provider groups join `staff_group` (the hosting team) at login
        and leave it at their next login or refresh once out. Never the JupyterHub admin flag.""",
    ).tag(config=True)
    staff_group = Unicode(
        "hds-admins", help="Hub group of the hosting team (admin panel, no researchers' servers)."
    ).tag(config=True)
    project_groups_prefix = Unicode(
        help="""With `manage_groups = True` (the provider owns project membership): provider
        groups with this prefix become hub groups, prefix removed. Empty: every one does.""",
    ).tag(config=True)
    provider_role_groups = Set(
        Unicode(),
        help="""With `manage_groups = True`: the hub groups carrying a role (`auditors`, ...)
        that provider groups may fill. Other groups with a role keep the hub's members.""",
    ).tag(config=True)
    usernames_are_permanent = Bool(
        False,
        help="""The provider never gives a user name to another person (national ids): a hub
        user made before its first login is taken by the account of that name.""",
    ).tag(config=True)
    bind_username_to_subject = Bool(
        True,
        help="""Refuse a login into a hub user bound to another provider account (`sub`).
        Set False only while migrating providers.""",
    ).tag(config=True)
    stop_servers_when_refused = Bool(
        True,
        help="""Stop someone's servers when the provider refuses to renew their login
        (refresh token rejected, or their claims no longer allow them).""",
    ).tag(config=True)
    end_provider_session = Bool(True, help="Logging out of the hub ends the provider session.").tag(
        config=True
    )
    post_logout_redirect_url = Unicode(
        help="Where the provider sends the browser after logout; empty: the hub's login page."
    ).tag(config=True)

    @default("login_service")
    def _default_login_service(self):
        return "your organisation's login"

    @default("scope")
    def _default_scope(self):
        return ["openid", "profile", "email"]

    @default("username_claim")
    def _default_username_claim(self):
        return "preferred_username"

    @default("enable_auth_state")
    def _default_enable_auth_state(self):
        return True

    @default("basic_auth")
    def _default_basic_auth(self):
        return True  # client_secret_basic: the method every provider must support (RFC 6749 2.3.1)

    # oauthenticator validates `userdata_url` itself (a validator here would replace its own):
    # that one is checked when the hub starts.
    @validate("issuer", *(name for name in client.ENDPOINTS if name != "userdata_url"))
    def _validate_url(self, proposal):
        return self.checked_url(proposal.trait.name, proposal.value)

    def checked_url(self, name: str, url: str) -> str:
        try:
            return check_url(name, url) if url else ""
        except ProviderMisconfigured as error:
            raise ValueError(f"{type(self).__name__}.{name}: {error}") from None

    @validate("id_token_algorithms")
    def _validate_algorithms(self, proposal):
        refused = [alg for alg in proposal.value if alg not in ASYMMETRIC_ALGORITHMS]
        if refused or not proposal.value:
            raise ValueError(
                f"{type(self).__name__}.id_token_algorithms: {refused or 'nothing'} cannot be "
                f"accepted; choose among {', '.join(ASYMMETRIC_ALGORITHMS)}"
            )
        return proposal.value

    def check_allow_config(self):
        name = type(self).__name__
        if not self.issuer:
            raise ValueError(
                f"{name}.issuer is not set: write c.{name}.issuer = "
                "'https://login.example.org/realms/hds' in a file of $HDS_CONFIG_DIR (docs/oidc.md)"
            )
        if not self.client_id or not self.client_secret:
            raise ValueError(
                f"{name} needs the client registered at the provider: set c.{name}.client_id and "
                f"c.{name}.client_secret (or the OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET variables)"
            )
        if not self.enable_pkce:
            raise ValueError(f"{name}.enable_pkce must stay True: the login's nonce comes from it")
        if self.required_acr and self.required_acr not in self.acr_levels:
            raise ValueError(
                f"{name}.required_acr: minimum acr {self.required_acr!r} is not one of the known "
                f"levels {list(self.acr_levels)}; add it to {name}.acr_levels"
            )
        self.checked_url("userdata_url", self.userdata_url)
        super().check_allow_config()

    def get_handlers(self, app):
        # JupyterHub routes the authenticator's handlers before its own (app.py, init_handlers)
        # and `extra_handlers` after them: the only way for a check to run before its routes.
        return [*super().get_handlers(app), *membership.HANDLERS]

    @cached_property
    def oidc(self) -> client.ProviderClient:
        """The provider: endpoints, tokens, userinfo, and the checks of what it signs."""
        return client.ProviderClient(self)

    # oauthenticator's hooks, in the order its authenticate and refresh_user call them ----------

    async def get_token_info(self, handler, params):
        """The token endpoint's answer, with its ID token's verified claims and expiry added."""
        received, refreshing = time.time(), _refreshing.get()
        try:
            token_info = await self.oidc.token_request(params)
        except LoginError as error:
            if refreshing is not None and error.failure == "code_rejected":
                refreshing.refused = error.failure  # the provider will not renew this login
            raise
        if refreshing is None:  # a login: the ID token must answer this login's nonce
            nonce = login_nonce(pkce_challenge(params["code_verifier"]))
            claims = await self.oidc.verify_id_token(token_info.get("id_token"), nonce=nonce)
        elif token_info.get("id_token"):  # a renewal: same person
            subject = refreshing.previous[ID_CLAIMS]["sub"]
            claims = await self.oidc.verify_id_token(token_info["id_token"], subject=subject)
        else:  # renewed without a new ID token: the login's stands, and stays the logout hint
            claims = refreshing.previous[ID_CLAIMS]
            token_info["id_token"] = refreshing.previous.get("id_token")
        return {**token_info, ID_CLAIMS: claims, EXPIRES_AT: expiry(token_info, received)}

    async def token_to_user(self, token_info):
        """The ID token's claims, then userinfo's (JSON or a signed JWT) for the same subject."""
        claims = token_info.get(ID_CLAIMS)
        if not claims:
            raise LoginError("id_token_invalid", "no verified ID token kept for this login")
        if _refreshing.get() is not None and expired(token_info.get(EXPIRES_AT)):
            # What the provider answers an expired token (some still take one for a while):
            # oauthenticator's refresh_user then renews it (oauthenticator#579).
            raise HTTPClientError(401, "the access token has expired")
        url = (await self.oidc.metadata()).userinfo_endpoint
        if self.userdata_from_id_token or not url:
            return dict(claims)
        try:
            return {**claims, **await self.oidc.userinfo(url, token_info, claims["sub"])}
        except HTTPClientError as error:
            if _refreshing.get() is not None:
                raise  # oauthenticator renews the access token
            raise LoginError("provider_error", f"userinfo endpoint: {error}") from error

    def user_info_to_username(self, user_info):
        try:
            return super().user_info_to_username(user_info)
        except ValueError as error:
            raise LoginError("username_missing", f"claim {self.username_claim!r}") from error

    def build_auth_state_dict(self, token_info, user_info):
        state = super().build_auth_state_dict(token_info, user_info)
        return {**state, ID_CLAIMS: token_info[ID_CLAIMS], EXPIRES_AT: token_info[EXPIRES_AT]}

    async def update_auth_model(self, auth_model):
        """Who this is at the provider (a digest); the acr at login; still allowed at refresh."""
        claims = auth_model["auth_state"][ID_CLAIMS]
        subject = identity.subject_digest(self.issuer, claims["sub"])
        auth_model["user_info"] = {identity.SUBJECT_KEY: subject}
        refreshing = _refreshing.get()
        if refreshing is None:
            self.check_login_acr(claims, auth_model["name"])
        elif not self.allow_all:  # JupyterHub asks check_allowed at login only
            try:
                await self.check_allowed(auth_model["name"], auth_model)
            except LoginError:
                refreshing.refused = "not_allowed"
                raise
        return auth_model

    async def get_user_groups(self, auth_state: dict) -> set[str]:
        """Hub groups when `manage_groups` is on: the prefixed provider groups, prefix removed."""
        claims = auth_state.get(self.user_auth_state_key) or {}
        prefix = self.project_groups_prefix
        found = provider_groups(claims, self.provider_groups_claim)
        return {g[len(prefix) :] for g in found if g.startswith(prefix) and g != prefix}

    def claimed_groups(self, auth_model: dict) -> set[str]:
        claims = (auth_model.get("auth_state") or {}).get(self.user_auth_state_key) or {}
        return provider_groups(claims, self.provider_groups_claim)

    async def check_allowed(self, username, auth_model):
        if await super().check_allowed(username, auth_model) or self.vouched(auth_model or {}):
            return True
        raise LoginError("not_allowed", self.custom_403_message, actor=username)

    def vouched(self, auth_model: dict) -> bool:
        """The provider puts this account in a group the operator trusts (the staff log in too)."""
        trusted = self.allowed_provider_groups | self.admin_provider_groups
        return bool(self.claimed_groups(auth_model) & trusted)

    def check_login_acr(self, id_claims: dict, username: str) -> None:
        try:
            if self.required_acr:
                acr_levels.check_acr(id_claims.get("acr"), self.acr_levels, self.required_acr)
        except acr_levels.AcrTooWeak as error:
            message = self.acr_refusal_message.format(
                acr=error.acr or "none", required=error.minimum
            )
            raise LoginError("acr_too_weak", message, actor=username) from error

    # After JupyterHub's own checks: which hub user, which groups --------------------------------

    async def run_post_auth_hook(self, handler, auth_model):
        identity.check_first_login(self, handler.find_user(auth_model["name"]), auth_model)
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        if self.admin_provider_groups or self.manage_groups:
            user = handler.user_from_username(auth_model["name"]).orm_user
            groups.apply(self, handler.db, user, auth_model)
        return auth_model

    async def refresh_user(self, user, handler=None, **kwargs):
        """oauthenticator's refresh, where the person must still be allowed; a provider outage
        keeps a login whose access token is still valid; a refusal stops their servers."""
        previous = (await user.get_auth_state() if self.enable_auth_state else None) or {}
        refresh = Refresh(previous)
        reset = _refreshing.set(refresh)
        try:
            refreshed = await super().refresh_user(user, handler, **kwargs)
        except (LoginError, HTTPClientError, OSError) as error:
            failure = getattr(error, "failure", "provider_unreachable")
            keep = failure == "provider_unreachable" and not expired(previous.get(EXPIRES_AT))
            self.log.warning("%s: %s (%s)", user.name, "kept" if keep else "must log in", error)
            refreshed = keep
        finally:
            _refreshing.reset(reset)
        if isinstance(refreshed, dict) and handler is not None:
            groups.apply(self, handler.db, user.orm_user, refreshed)
        if refreshed is False and refresh.refused and handler and self.stop_servers_when_refused:
            await self.stop_servers(user, handler, refresh.refused)
        return refreshed

    async def stop_servers(self, user, handler, why: str) -> None:
        for name, spawner in list(user.spawners.items()):
            if spawner.active and not spawner.pending:
                self.log.warning(
                    "Stopping %s's server %r: provider refused (%s)", user.name, name, why
                )
                await handler.stop_single_user(user, name)
