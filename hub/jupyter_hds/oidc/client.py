"""The hub's requests to the provider and the checks of what it answers (tokens, userinfo)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import HTTPClientError, HTTPResponse
from tornado.httputil import url_concat

from .discovery import Provider, ProviderMisconfigured, ProviderUnreachable
from .errors import LoginError
from .tokens import Expected, TokenRejected, UnknownSigningKey, verify_userinfo_jwt


async def provider_call(call: Callable[[], Awaitable[Any]]) -> Any:
    """`call()`, its discovery and key-set errors turned into LoginErrors."""
    try:
        return await call()
    except ProviderUnreachable as error:
        raise LoginError("provider_unreachable", str(error)) from error
    except ProviderMisconfigured as error:
        raise LoginError("provider_misconfigured", str(error)) from error


async def fetch_json(auth, url: str) -> Any:
    """A JSON document of the provider (discovery, keys); ProviderUnreachable when it fails."""
    try:
        response = await auth.httpfetch(
            url,
            label="fetching provider metadata",
            parse_json=False,
            headers={"Accept": "application/json"},
            validate_cert=auth.validate_server_cert,
        )
        return json.loads(response.body)
    except (HTTPClientError, OSError) as error:
        raise ProviderUnreachable(f"{url}: {error}") from error
    except ValueError as error:
        raise ProviderUnreachable(f"{url} did not answer JSON ({error})") from error


async def token_request(auth, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """POST `params` to the token endpoint; errors become LoginErrors that say which."""
    params = {k: v for k, v in params.items() if k != "data" and v is not None}
    try:
        response = await auth.httpfetch(
            url,
            label="exchanging a grant for tokens",
            parse_json=False,
            method="POST",
            headers=auth.build_token_info_request_headers(),
            body=urlencode(params),
            validate_cert=auth.validate_server_cert,
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


async def userinfo(auth, url: str, token_info: dict[str, Any]) -> HTTPResponse:
    """The userinfo answer (JSON or a signed JWT) for the access token in `token_info`.

    HTTPClientError propagates: oauthenticator's refresh takes a 4xx as an expired access token
    and uses the refresh token. A provider that cannot be reached is a LoginError.
    """
    headers = auth.build_userdata_request_headers(
        token_info["access_token"], token_info.get("token_type", "Bearer")
    )
    headers["Accept"] = "application/json, application/jwt"
    try:
        return await auth.httpfetch(
            url_concat(url, auth.userdata_params),
            label="fetching userinfo",
            parse_json=False,
            method="GET",
            headers=headers,
            validate_cert=auth.validate_server_cert,
        )
    except HTTPClientError as error:
        if error.code < 500:
            raise
        raise LoginError("provider_unreachable", f"userinfo endpoint: {error}") from error
    except OSError as error:
        raise LoginError("provider_unreachable", f"userinfo endpoint: {error}") from error


async def verified(
    provider: Provider, expected: Expected, verify, failure: str, token: str, **checks
) -> dict[str, Any]:
    """`verify(token, jwks, expected, **checks)`, refetching the keys once for a new kid."""
    try:
        try:
            return verify(token, await provider_call(provider.jwks), expected, **checks)
        except UnknownSigningKey:
            jwks = await provider_call(lambda: provider.jwks(refresh=True))
            return verify(token, jwks, expected, **checks)
    except TokenRejected as error:
        raise LoginError(failure, str(error)) from error


async def userinfo_claims(
    provider: Provider, expected: Expected, response: HTTPResponse, subject: str
) -> dict[str, Any]:
    """The claims of a userinfo answer, JSON or a signed JWT, about `subject` only."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    body = response.body.decode("utf-8", "replace")
    if content_type == "application/jwt":
        return await verified(
            provider, expected, verify_userinfo_jwt, "userinfo_invalid", body.strip(),
            subject=subject,
        )  # fmt: skip
    try:
        claims = json.loads(body)
    except ValueError as error:
        raise LoginError("userinfo_invalid", f"not JSON ({content_type})") from error
    if not isinstance(claims, dict) or claims.get("sub") != subject:
        raise LoginError("userinfo_invalid", "its subject is not the ID token's")
    return claims
