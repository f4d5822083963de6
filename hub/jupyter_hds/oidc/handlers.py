"""Login, callback and logout pages: nonce, clear failure pages, audit events, provider logout."""

from __future__ import annotations

from typing import NoReturn
from urllib.parse import urljoin

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler, OAuthLogoutHandler
from tornado import web
from tornado.escape import xhtml_escape
from tornado.httputil import url_concat

from .. import events
from ..audit.hub import client_address
from .errors import LoginError
from .tokens import login_nonce


class LoginFailurePage(BaseHandler):
    """Turns a LoginError into an audit event and the hub's error page, with a way back in."""

    def refuse(self, error: LoginError) -> NoReturn:
        events.emit(
            "login.failed",
            actor=error.actor or "anonymous",
            outcome="failed",
            source=client_address(self.request),
            details={"reason": error.failure, "detail": error.detail, "provider": self.issuer},
        )
        self.log.warning("Login failed (%s): %s", error.failure, error.detail)
        again = url_path_join(self.hub.base_url, "oauth_login")
        self.extra_error_html = (
            f'<a class="btn btn-primary" href="{xhtml_escape(again)}">Log in again</a>'
        )
        raise error

    @property
    def issuer(self) -> str:
        return self.authenticator.issuer


class OIDCLoginHandler(LoginFailurePage, OAuthLoginHandler):
    """Sends the browser to the provider with state, PKCE, a nonce and the requested acr."""

    async def get(self):
        try:
            self._metadata = await self.authenticator.oidc.metadata()
        except LoginError as error:
            self.refuse(error)
        super().get()

    @property
    def _OAUTH_AUTHORIZE_URL(self):
        # Where tornado's OAuth2Mixin sends the browser (oauthenticator reads a trait here).
        return self._metadata.authorization_endpoint

    def authorize_redirect(self, *args, extra_params=None, **kwargs):
        # The nonce derives from the PKCE verifier kept in the hub-signed state cookie.
        params = {**(extra_params or {})}
        params["nonce"] = login_nonce(params["code_challenge"])
        if self.authenticator.required_acr:
            params["acr_values"] = self.authenticator.required_acr
        return super().authorize_redirect(*args, extra_params=params, **kwargs)


class OIDCCallbackHandler(LoginFailurePage, OAuthCallbackHandler):
    """Completes the login; any failure is recorded and shown as a page, never a traceback."""

    async def get(self):
        try:
            self.check_arguments()
            self.check_issuer()
            user = await self.login_user()
        except LoginError as error:
            self.refuse(error)
        except web.HTTPError as error:
            self.refuse(LoginError("internal_error", error.log_message or str(error)))
        except Exception:
            self.log.exception("Login failed on an unexpected error")
            self.refuse(LoginError("internal_error", "unexpected error, see the hub log"))
        if user is None:
            self.refuse(LoginError("not_allowed", self.authenticator.custom_403_message))
        auth_state = await user.get_auth_state() or {}
        events.emit(
            "login",
            actor=user.name,
            outcome="succeeded",
            source=client_address(self.request),
            details={
                "provider": self.issuer,
                "acr": auth_state.get("id_token_claims", {}).get("acr"),
                "admin": bool(user.admin),
            },
        )
        self.redirect(self.get_next_url(user))

    def check_error(self):
        error = self.get_argument("error", "")
        if error:
            description = self.get_argument("error_description", "")
            raise LoginError("provider_error", f"{error}: {description}" if description else error)

    def check_code(self):
        if not self.get_argument("code", ""):
            raise LoginError("provider_error", "the provider sent back no code")

    def check_state(self):
        try:
            super().check_state()
        except web.HTTPError as error:
            raise LoginError("state_mismatch", error.log_message or "bad state") from None

    def check_issuer(self):
        """RFC 9207: a provider naming itself in the answer must be the hub's (mix-up attacks)."""
        iss = self.get_argument("iss", None)
        if iss is not None and iss != self.issuer:
            raise LoginError("issuer_mismatch", f"the answer names issuer {iss!r}")


class OIDCLogoutHandler(OAuthLogoutHandler):
    """Ends the hub session, drops the stored tokens, then ends the provider session too."""

    _provider_logout_url = ""

    async def handle_logout(self):
        await super().handle_logout()
        user = self.current_user
        if user is None:
            return
        auth_state = await user.get_auth_state() if self.authenticator.enable_auth_state else None
        self._provider_logout_url = await self.provider_logout_url(auth_state)
        if auth_state:
            await user.save_auth_state(None)
        events.emit(
            "logout",
            actor=user.name,
            outcome="succeeded",
            source=client_address(self.request),
            details={"provider_logout": bool(self._provider_logout_url)},
        )

    async def render_logout_page(self):
        if self._provider_logout_url:
            self.redirect(self._provider_logout_url)
            return
        await super().render_logout_page()

    async def provider_logout_url(self, auth_state: dict | None) -> str:
        """The provider's end-session URL for this browser, or "" when there is none to visit."""
        auth = self.authenticator
        if not auth.end_provider_session:
            return ""
        try:
            metadata = await auth.oidc.metadata()
        except LoginError as error:
            self.log.warning("Cannot end the provider session: %s", error.detail)
            return ""
        if not metadata.end_session_endpoint:
            return ""
        back = auth.post_logout_redirect_url or urljoin(auth.get_callback_url(self), "login")
        params = {"client_id": auth.client_id, "post_logout_redirect_uri": back}
        if auth_state and auth_state.get("id_token"):
            params["id_token_hint"] = auth_state["id_token"]
        return url_concat(metadata.end_session_endpoint, params)
