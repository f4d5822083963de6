"""The hub's requests to its provider, and the checks of what the provider answers.

`ProviderClient` is the authenticator's link to one provider: endpoints from discovery (or
set by hand), the token endpoint, userinfo, and the verification of ID tokens and signed
userinfo against the provider's keys. It goes through the authenticator's `httpfetch`, so
oauthenticator's `http_request_kwargs` and `validate_server_cert` apply.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import HTTPClientError, HTTPResponse
from tornado.httputil import url_concat

from .discovery import Provider, ProviderMetadata, ProviderMisconfigured, ProviderUnreachable
from .errors import LoginError
from .tokens import (
    Expected,
    TokenRejected,
    UnknownSigningKey,
    verify_id_token,
    verify_userinfo_jwt,
)

# Endpoints an operator may set by hand (authenticator traits), and their discovery names.
ENDPOINTS = {
    "authorize_url": "authorization_endpoint",
    "token_url": "token_endpoint",
    "userdata_url": "userinfo_endpoint",
    "jwks_url": "jwks_uri",
    "end_session_url": "end_session_endpoint",
}


async def provider_call(call: Callable[[], Awaitable[Any]]) -> Any:
    """`call()`, its discovery and key-set errors turned into LoginErrors."""
    try:
        return await call()
    except ProviderUnreachable as error:
        raise LoginError("provider_unreachable", str(error)) from error
    except ProviderMisconfigured as error:
        raise LoginError("provider_misconfigured", str(error)) from error


class ProviderClient:
    """One provider as the authenticator `auth` (its settings, its HTTP client) talks to it."""

    def __init__(self, auth):
        self.auth = auth
        overrides = {key: getattr(auth, trait) for trait, key in ENDPOINTS.items()}
        self.provider = Provider(
            auth.issuer, self.fetch_json, overrides, cache_seconds=auth.discovery_cache_seconds
        )

    @property
    def expected(self) -> Expected:
        auth = self.auth
        algorithms = tuple(auth.id_token_algorithms)
        return Expected(auth.issuer, auth.client_id, algorithms, auth.clock_skew)

    async def metadata(self) -> ProviderMetadata:
        return await provider_call(self.provider.metadata)

    async def fetch(self, url: str, label: str, **kwargs) -> HTTPResponse:
        return await self.auth.httpfetch(
            url,
            label=label,
            parse_json=False,
            validate_cert=self.auth.validate_server_cert,
            **kwargs,
        )

    async def fetch_json(self, url: str) -> Any:
        """A JSON document of the provider (discovery, keys); ProviderUnreachable when it fails."""
        try:
            response = await self.fetch(
                url, "fetching provider metadata", headers={"Accept": "application/json"}
            )
            return json.loads(response.body)
        except (HTTPClientError, OSError) as error:
            raise ProviderUnreachable(f"{url}: {error}") from error
        except ValueError as error:
            raise ProviderUnreachable(f"{url} did not answer JSON ({error})") from error

    async def token_request(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST `params` to the token endpoint; errors become LoginErrors that say which."""
        url = (await self.metadata()).token_endpoint
        params = {k: v for k, v in params.items() if k != "data" and v is not None}
        headers = self.auth.build_token_info_request_headers()
        try:
            response = await self.fetch(
                url, "exchanging a grant", method="POST", headers=headers, body=urlencode(params)
            )
        except HTTPClientError as error:
            raise token_error(error) from error
        except OSError as error:
            raise LoginError("provider_unreachable", f"token endpoint: {error}") from error
        try:
            token_info = json.loads(response.body)
        except ValueError as error:
            raise LoginError("provider_error", "the token endpoint did not answer JSON") from error
        if not isinstance(token_info, dict) or "access_token" not in token_info:
            raise LoginError("provider_error", "the token endpoint sent no access token")
        return token_info

    async def userinfo(self, url: str, token_info: dict[str, Any], subject: str) -> dict:
        """The userinfo claims (JSON or a signed JWT) for the access token, about `subject` only.

        HTTPClientError (4xx) propagates: oauthenticator's refresh takes it for an expired
        access token and uses the refresh token. An unreachable provider is a LoginError.
        """
        access_token, token_type = token_info["access_token"], token_info.get("token_type")
        headers = self.auth.build_userdata_request_headers(access_token, token_type or "Bearer")
        headers["Accept"] = "application/json, application/jwt"
        try:
            response = await self.fetch(
                url_concat(url, self.auth.userdata_params), "fetching userinfo", headers=headers
            )
        except HTTPClientError as error:
            if error.code < 500:
                raise
            raise LoginError("provider_unreachable", f"userinfo endpoint: {error}") from error
        except OSError as error:
            raise LoginError("provider_unreachable", f"userinfo endpoint: {error}") from error
        return await self.userinfo_claims(response, subject)

    async def userinfo_claims(self, response: HTTPResponse, subject: str) -> dict[str, Any]:
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = response.body.decode("utf-8", "replace")
        if content_type == "application/jwt":
            return await self.verified(
                verify_userinfo_jwt, "userinfo_invalid", body.strip(), subject=subject
            )
        try:
            claims = json.loads(body)
        except ValueError as error:
            raise LoginError("userinfo_invalid", f"not JSON ({content_type})") from error
        if not isinstance(claims, dict) or claims.get("sub") != subject:
            raise LoginError("userinfo_invalid", "its subject is not the ID token's")
        return claims

    async def verify_id_token(self, token, *, nonce=None, subject=None) -> dict[str, Any]:
        if not token:
            raise LoginError("id_token_invalid", "no ID token; is 'openid' in the scopes?")
        return await self.verified(
            verify_id_token, "id_token_invalid", token, nonce=nonce, subject=subject
        )

    async def verified(self, verify, failure: str, token: str, **checks) -> dict[str, Any]:
        """`verify(token, jwks, expected, **checks)`, refetching the keys once for a new kid."""
        try:
            try:
                jwks = await provider_call(self.provider.jwks)
                return verify(token, jwks, self.expected, **checks)
            except UnknownSigningKey:
                jwks = await provider_call(lambda: self.provider.jwks(refresh=True))
                return verify(token, jwks, self.expected, **checks)
        except TokenRejected as error:
            raise LoginError(failure, str(error)) from error


def token_error(error: HTTPClientError) -> LoginError:
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
