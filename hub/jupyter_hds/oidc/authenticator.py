"""OpenID Connect login for the hub: GenericOAuthenticator with discovery and verified ID tokens."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urljoin

from jupyterhub import orm
from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httputil import url_concat
from traitlets import Bool, Float, List, Set, Unicode, default, validate

from .. import events
from . import acr as acr_levels
from .claims import provider_groups
from .compat import patch_token_authenticated_default
from .discovery import (
    Provider,
    ProviderMetadata,
    ProviderMisconfigured,
    ProviderUnreachable,
    check_url,
)
from .errors import LoginError
from .handlers import OIDCCallbackHandler, OIDCLoginHandler, OIDCLogoutHandler
from .tokens import (
    ASYMMETRIC_ALGORITHMS,
    Expected,
    TokenRejected,
    UnknownSigningKey,
    verify_id_token,
    verify_userinfo_jwt,
)

SUBJECT_KEY = "oidc_subject"
# The endpoints an operator may set by hand instead of reading them from discovery.
ENDPOINT_TRAITS = ("authorize_url", "token_url", "userdata_url", "jwks_url", "end_session_url")
patch_token_authenticated_default()


class HDSOIDCAuthenticator(GenericOAuthenticator):
    """Log in with an OpenID Connect provider (Keycloak, LemonLDAP::NG, Pro Santé Connect, ...).

    Endpoints come from the issuer's discovery document; ID tokens are verified (signature,
    issuer, audience, expiry, nonce); tokens are kept in encrypted auth state and refreshed;
    logout ends the provider session too.
    """

    login_handler = OIDCLoginHandler
    callback_handler = OIDCCallbackHandler
    logout_handler = OIDCLogoutHandler

    issuer = Unicode(
        help="""The provider's issuer URL, exactly as its tokens write it
        (Keycloak: https://login.example.org/realms/<realm>). The endpoints are read from
        <issuer>/.well-known/openid-configuration unless set one by one.""",
    ).tag(config=True)

    jwks_url = Unicode(
        help="The provider's JWK Set URL (its signing keys); empty: from the discovery document.",
    ).tag(config=True)

    end_session_url = Unicode(
        help="The provider's end-session (logout) URL; empty: from the discovery document.",
    ).tag(config=True)

    id_token_algorithms = List(
        Unicode(),
        default_value=list(ASYMMETRIC_ALGORITHMS),
        help="Signature algorithms accepted on ID tokens and signed userinfo (public-key only).",
    ).tag(config=True)

    clock_skew = Float(
        60.0, help="Seconds of clock difference with the provider tolerated on exp and iat."
    ).tag(config=True)

    discovery_cache_seconds = Float(
        3600.0, help="How long the discovery document and signing keys are kept before a refetch."
    ).tag(config=True)

    required_acr = Unicode(
        "",
        help="""Weakest authentication level (`acr`) accepted; empty: not checked. It is sent as
        `acr_values` and the ID token's `acr` must be it or a stronger one of `acr_levels`.""",
    ).tag(config=True)

    acr_levels = List(
        Unicode(),
        help="The provider's authentication levels (`acr` values), weakest first.",
    ).tag(config=True)

    acr_refusal_message = Unicode(
        "This hub needs a stronger login: level {required} or stronger, and this login was made "
        "at level {acr}. Please log in again with a stronger method.",
        help="What a person logging in at too weak a level reads; {acr} and {required} are filled.",
    ).tag(config=True)

    provider_groups_claim = Unicode(
        "groups",
        help="""Claim (dotted path) listing the person's groups at the provider. It replaces
        oauthenticator's `claim_groups_key` and `auth_state_groups_key`, which are ignored.""",
    ).tag(config=True)

    allowed_provider_groups = Set(
        Unicode(),
        help="""Members of any of these provider groups may log in (besides `allowed_users`).
        Read from `provider_groups_claim` at each login and refresh; hub groups are untouched.""",
    ).tag(config=True, allow_config=True)

    admin_provider_groups = Set(
        Unicode(),
        help="""Members of any of these provider groups join the hub group `staff_group` (the
        hosting team) at login; others leave it at their next login or refresh. The JupyterHub
        admin flag, which opens every user's server, is never set from the provider.""",
    ).tag(config=True)

    staff_group = Unicode(
        "hds-admins",
        help="""Hub group of the hosting team: its role runs the admin panel without access to
        researchers' servers. `admin_provider_groups` manages its membership.""",
    ).tag(config=True)

    project_groups_prefix = Unicode(
        "",
        help="""Only with `manage_groups = True` (the provider then owns project membership): the
        provider groups starting with this prefix become hub groups (projects), prefix removed;
        the others are ignored. Empty: every provider group becomes a hub group.""",
    ).tag(config=True)

    bind_username_to_subject = Bool(
        True,
        help="""Refuse a login whose user name is already bound to another provider account
        (`sub`): a renamed account at the provider cannot take over someone else's hub user.""",
    ).tag(config=True)

    end_provider_session = Bool(
        True,
        help="Logging out of the hub also ends the provider session (end-session endpoint).",
    ).tag(config=True)

    post_logout_redirect_url = Unicode(
        help="""Where the provider sends the browser after logout; register it at the provider.
        Empty: the hub's login page, next to the callback URL.""",
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

    @validate("issuer")
    def _validate_issuer(self, proposal):
        try:
            return check_url("issuer", proposal.value) if proposal.value else ""
        except ProviderMisconfigured as error:
            raise ValueError(f"{type(self).__name__}.issuer: {error}") from None

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
        if self.required_acr:
            try:
                acr_levels.accepted_levels(self.acr_levels, self.required_acr)
            except ValueError as error:
                raise ValueError(
                    f"{name}.required_acr: {error}; add it to {name}.acr_levels"
                ) from None
        for endpoint in ENDPOINT_TRAITS:
            url = getattr(self, endpoint)
            try:
                if url:
                    check_url(endpoint, url)
            except ProviderMisconfigured as error:
                raise ValueError(f"{name}.{endpoint}: {error}") from None
        if self.userdata_url:
            self.log.info("Userinfo endpoint set by hand: %s", self.userdata_url)
        super().check_allow_config()

    # The provider --------------------------------------------------------------------------

    @property
    def provider(self) -> Provider:
        if getattr(self, "_provider", None) is None:
            overrides = {
                "authorization_endpoint": self.authorize_url,
                "token_endpoint": self.token_url,
                "userinfo_endpoint": self.userdata_url,
                "jwks_uri": self.jwks_url,
                "end_session_endpoint": self.end_session_url,
            }
            self._provider = Provider(
                self.issuer,
                self._fetch_json,
                overrides,
                cache_seconds=self.discovery_cache_seconds,
            )
        return self._provider

    async def _fetch_json(self, url: str) -> Any:
        try:
            response = await self.httpfetch(
                url,
                label="fetching provider metadata",
                parse_json=False,
                headers={"Accept": "application/json"},
                validate_cert=self.validate_server_cert,
            )
            return json.loads(response.body)
        except (HTTPClientError, OSError) as error:
            raise ProviderUnreachable(f"{url}: {error}") from error
        except ValueError as error:
            raise ProviderUnreachable(f"{url} did not answer JSON ({error})") from error

    async def provider_metadata(self) -> ProviderMetadata:
        return await self._provider_call(self.provider.metadata)

    async def _jwks(self, refresh: bool = False) -> dict[str, Any]:
        return await self._provider_call(lambda: self.provider.jwks(refresh=refresh))

    async def _provider_call(self, call: Callable) -> Any:
        try:
            return await call()
        except ProviderUnreachable as error:
            raise LoginError("provider_unreachable", str(error)) from error
        except ProviderMisconfigured as error:
            raise LoginError("provider_misconfigured", str(error)) from error

    def authorize_params(self) -> dict[str, str]:
        """Parameters of the authorization request beyond OAuth's (the login page adds nonce)."""
        return {"acr_values": self.required_acr} if self.required_acr else {}

    # Tokens ----------------------------------------------------------------------------------

    @property
    def expected(self) -> Expected:
        return Expected(
            self.issuer, self.client_id, tuple(self.id_token_algorithms), self.clock_skew
        )

    async def _verified(self, verify: Callable, failure: str, token: str, **checks) -> dict:
        """`verify(token, jwks, expected, **checks)`, refetching the keys once for a new kid."""
        try:
            try:
                return verify(token, await self._jwks(), self.expected, **checks)
            except UnknownSigningKey:
                return verify(token, await self._jwks(refresh=True), self.expected, **checks)
        except TokenRejected as error:
            raise LoginError(failure, str(error)) from error

    async def verify_id_token(
        self, token: str | None, *, nonce: str | None, subject: str | None = None
    ) -> dict[str, Any]:
        if not token:
            raise LoginError("id_token_invalid", "no ID token; is 'openid' in the scopes?")
        return await self._verified(
            verify_id_token, "id_token_invalid", token, nonce=nonce, subject=subject
        )

    async def token_request(self, metadata: ProviderMetadata, params: dict) -> dict[str, Any]:
        """POST `params` to the token endpoint; errors become LoginErrors that say which."""
        params = {k: v for k, v in params.items() if k != "data" and v is not None}
        request = HTTPRequest(
            metadata.token_endpoint,
            method="POST",
            headers=self.build_token_info_request_headers(),
            body=urlencode(params),
            validate_cert=self.validate_server_cert,
            **self.http_request_kwargs,
        )
        try:
            response = await self.http_client.fetch(request)
        except HTTPClientError as error:
            raise self._token_error(error) from error
        except OSError as error:
            raise LoginError("provider_unreachable", f"token endpoint: {error}") from error
        try:
            token_info = json.loads(response.body)
        except ValueError as error:
            raise LoginError("provider_error", "the token endpoint did not answer JSON") from error
        if not isinstance(token_info, dict) or "access_token" not in token_info:
            raise LoginError("provider_error", "the token endpoint sent no access token")
        return token_info

    @staticmethod
    def _token_error(error: HTTPClientError) -> LoginError:
        if error.response is None or error.code >= 500:
            return LoginError("provider_unreachable", f"token endpoint: {error}")
        try:
            body = json.loads(error.response.body)
        except ValueError:
            body = {}
        code = body.get("error", f"HTTP {error.code}") if isinstance(body, dict) else error.code
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        detail = f"{code}: {description}" if description else str(code)
        return LoginError("code_rejected" if code == "invalid_grant" else "provider_error", detail)

    async def fetch_userinfo(
        self, metadata: ProviderMetadata, token_info: dict, subject: str
    ) -> dict[str, Any]:
        """The userinfo claims, JSON or a signed JWT (`application/jwt`), for `subject` only.

        Raises HTTPClientError when the endpoint refuses the access token (refresh handles it).
        """
        if self.userdata_from_id_token or not metadata.userinfo_endpoint:
            return {}
        headers = self.build_userdata_request_headers(
            token_info["access_token"], token_info.get("token_type", "Bearer")
        )
        headers["Accept"] = "application/json, application/jwt"
        response = await self.httpfetch(
            url_concat(metadata.userinfo_endpoint, self.userdata_params),
            label="fetching userinfo",
            parse_json=False,
            method="GET",
            headers=headers,
            validate_cert=self.validate_server_cert,
        )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = response.body.decode("utf-8", "replace")
        if content_type == "application/jwt":
            return await self._verified(
                verify_userinfo_jwt, "userinfo_invalid", body.strip(), subject=subject
            )
        try:
            claims = json.loads(body)
        except ValueError as error:
            raise LoginError("userinfo_invalid", f"not JSON ({content_type})") from error
        if not isinstance(claims, dict) or claims.get("sub") != subject:
            raise LoginError("userinfo_invalid", "its subject is not the ID token's")
        return claims

    # Login -----------------------------------------------------------------------------------

    async def authenticate(self, handler, data=None):
        metadata = await self.provider_metadata()
        nonce = handler.nonce()
        try:
            params = self.build_access_tokens_request_params(handler, data)
        except web.HTTPError as error:
            raise LoginError("state_mismatch", error.log_message or str(error)) from None
        received = time.time()
        token_info = await self.token_request(metadata, params)
        id_claims = await self.verify_id_token(token_info.get("id_token"), nonce=nonce)
        try:
            model = await self.auth_model(
                metadata, token_info, id_claims, expiry(token_info, received)
            )
        except HTTPClientError as error:
            failure = "provider_unreachable" if error.code >= 500 else "provider_error"
            raise LoginError(failure, f"userinfo endpoint: {error}") from error
        except OSError as error:
            raise LoginError("provider_unreachable", f"userinfo endpoint: {error}") from error
        self.check_login_acr(id_claims, model["name"])
        self.check_subject(handler, model)
        return model

    async def auth_model(
        self,
        metadata: ProviderMetadata,
        token_info: dict,
        id_claims: dict,
        expires_at: float | None,
    ) -> dict[str, Any]:
        """The JupyterHub auth model: user name, admin flag, encrypted auth state, groups."""
        user_info = await self.fetch_userinfo(metadata, token_info, id_claims["sub"])
        claims = {**id_claims, **user_info}
        try:
            username = self.normalize_username(self.user_info_to_username(claims))
        except ValueError as error:
            raise LoginError("username_missing", f"claim {self.username_claim!r}") from error
        auth_state = self.build_auth_state_dict(token_info, claims)
        auth_state["id_token_claims"] = id_claims
        auth_state["expires_at"] = expires_at
        if self.modify_auth_state_hook is not None:
            auth_state = await self._call_modify_auth_state_hook(auth_state)
        model = {
            "name": username,
            "admin": True if username in self.admin_users else None,
            "auth_state": auth_state,
            # Kept in the hub database, readable with the user's name: a digest, not the sub.
            "user_info": {SUBJECT_KEY: subject_digest(self.issuer, id_claims["sub"])},
        }
        model = await self.update_auth_model(model)
        if self.manage_groups:
            model = await self._apply_managed_groups(model)
        return model

    def claims_of(self, model: dict) -> dict[str, Any]:
        return (model.get("auth_state") or {}).get(self.user_auth_state_key) or {}

    def is_staff(self, auth_model: dict) -> bool | None:
        """Whether the provider puts this person in the hosting team; None when not configured."""
        if not self.admin_provider_groups:
            return None
        groups = provider_groups(self.claims_of(auth_model), self.provider_groups_claim)
        return bool(groups & self.admin_provider_groups)

    def sync_staff_group(self, handler, auth_model: dict) -> None:
        """Add the person to `staff_group`, or remove them, as the provider's groups say."""
        staff = self.is_staff(auth_model)
        if staff is None:
            return
        user = handler.user_from_username(auth_model["name"]).orm_user
        group = orm.Group.find(handler.db, self.staff_group)
        if group is None:
            group = orm.Group(name=self.staff_group)
            handler.db.add(group)
        if staff == (user in group.users):
            return
        if staff:
            group.users.append(user)
        else:
            group.users.remove(user)
        handler.db.commit()
        events.emit(
            "group.members.add" if staff else "group.members.remove",
            actor=f"provider:{self.issuer}",
            outcome="succeeded",
            target=self.staff_group,
            details={"user": user.name, "reason": "provider groups claim"},
        )

    async def run_post_auth_hook(self, handler, auth_model):
        auth_model = await super().run_post_auth_hook(handler, auth_model)
        self.sync_staff_group(handler, auth_model)
        return auth_model

    async def get_user_groups(self, auth_state: dict) -> set[str]:
        """Hub groups when `manage_groups` is on: the prefixed provider groups, prefix removed."""
        claims = auth_state.get(self.user_auth_state_key) or {}
        groups = provider_groups(claims, self.provider_groups_claim)
        prefix = self.project_groups_prefix
        return {g[len(prefix) :] for g in groups if g.startswith(prefix) and g != prefix}

    async def check_allowed(self, username, auth_model):
        if await super().check_allowed(username, auth_model):
            return True
        groups = provider_groups(self.claims_of(auth_model or {}), self.provider_groups_claim)
        # The hosting team logs in too: it runs the admin panel.
        if groups & (self.allowed_provider_groups | self.admin_provider_groups):
            return True
        raise LoginError("not_allowed", self.custom_403_message, actor=username)

    def check_login_acr(self, id_claims: dict, username: str) -> None:
        if not self.required_acr:
            return
        try:
            acr_levels.check_acr(id_claims.get("acr"), self.acr_levels, self.required_acr)
        except acr_levels.AcrTooWeak as error:
            message = self.acr_refusal_message.format(
                acr=error.acr or "none", required=error.minimum
            )
            raise LoginError("acr_too_weak", message, actor=username) from error

    def check_subject(self, handler, model: dict) -> None:
        """Refuse a user name already bound to another provider account (see the trait)."""
        if not self.bind_username_to_subject:
            return
        user = handler.find_user(model["name"])
        bound = (user.user_info or {}).get(SUBJECT_KEY) if user else None
        if bound and bound != model["user_info"][SUBJECT_KEY]:
            raise LoginError(
                "identity_mismatch",
                f"hub user {model['name']!r} is bound to another provider account",
                actor=model["name"],
            )

    # Refresh and logout ----------------------------------------------------------------------

    async def refresh_user(self, user, handler=None, **kwargs):
        """Check the login is still good at the provider; refresh the tokens when they expired.

        True keeps the current auth, a model updates it, False requires a new login: when the
        tokens cannot be refreshed, or the person is no longer allowed at the provider.
        As in oauthenticator, `refresh_user_hook` is asked first and its answer, unless None,
        replaces all of this.
        """
        if not self.enable_auth_state:
            return True
        auth_state = await user.get_auth_state()
        if self.refresh_user_hook is not None:
            refreshed = await self._call_refresh_user_hook(user, auth_state)
            if refreshed is not None:
                return refreshed
        if not auth_state or "id_token_claims" not in auth_state:
            return False
        try:
            model = await self._refreshed_model(auth_state)
        except LoginError as error:
            if error.failure == "provider_unreachable" and not expired(auth_state):
                self.log.warning("Keeping %s's login: %s", user.name, error.detail)
                return True
            self.log.warning(
                "%s must log in again (%s: %s)", user.name, error.failure, error.detail
            )
            return False
        try:
            await self.check_allowed(model["name"], model)
        except LoginError:
            self.log.warning("%s is no longer allowed by the provider's claims", user.name)
            return False
        if handler is not None:
            self.sync_staff_group(handler, model)
        return model

    async def _refreshed_model(self, auth_state: dict) -> dict[str, Any]:
        metadata = await self.provider_metadata()
        id_claims = auth_state["id_token_claims"]
        if not expired(auth_state):
            try:
                return await self.auth_model(
                    metadata, auth_state["token_response"], id_claims, auth_state.get("expires_at")
                )
            except HTTPClientError as error:
                if error.code >= 500:
                    raise LoginError("provider_unreachable", f"userinfo: {error}") from error
                # The provider no longer takes the access token: refresh it.
            except OSError as error:
                raise LoginError("provider_unreachable", f"userinfo: {error}") from error
        return await self._use_refresh_token(metadata, auth_state)

    async def _use_refresh_token(self, metadata: ProviderMetadata, auth_state: dict) -> dict:
        refresh_token = auth_state.get("refresh_token")
        if not refresh_token:
            raise LoginError("code_rejected", "no refresh token to renew the expired access token")
        received = time.time()
        params = self.build_refresh_token_request_params(refresh_token)
        token_info = await self.token_request(metadata, params)
        token_info["refresh_token"] = token_info.get("refresh_token") or refresh_token
        id_claims = auth_state["id_token_claims"]
        if token_info.get("id_token"):
            id_claims = await self.verify_id_token(
                token_info["id_token"], nonce=None, subject=id_claims["sub"]
            )
        else:
            token_info["id_token"] = auth_state.get("id_token")  # still the logout hint
        try:
            return await self.auth_model(
                metadata, token_info, id_claims, expiry(token_info, received)
            )
        except (HTTPClientError, OSError) as error:
            raise LoginError("provider_error", f"userinfo with the new token: {error}") from error

    def post_logout_url(self, handler) -> str:
        if self.post_logout_redirect_url:
            return self.post_logout_redirect_url
        return urljoin(self.get_callback_url(handler), "login")

    async def provider_logout_url(self, handler, auth_state: dict | None) -> str:
        """The provider's end-session URL for this browser, or "" when there is none to visit."""
        if not self.end_provider_session:
            return ""
        try:
            metadata = await self.provider_metadata()
        except LoginError as error:
            self.log.warning("Cannot end the provider session: %s", error.detail)
            return ""
        if not metadata.end_session_endpoint:
            return ""
        params = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": self.post_logout_url(handler),
        }
        if auth_state and auth_state.get("id_token"):
            params["id_token_hint"] = auth_state["id_token"]
        return url_concat(metadata.end_session_endpoint, params)


def subject_digest(issuer: str, subject: str) -> str:
    """Who this hub user is at the provider, as a digest of (issuer, sub)."""
    return hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()


def expiry(token_info: dict, received: float) -> float | None:
    """When the access token expires (epoch seconds), from the token response's expires_in."""
    try:
        return received + float(token_info["expires_in"])
    except (KeyError, TypeError, ValueError):
        return None


def expired(auth_state: dict) -> bool:
    expires_at = auth_state.get("expires_at")
    return expires_at is not None and time.time() >= expires_at
