"""Verification of what an OpenID provider signs: ID tokens and signed userinfo responses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

# Public-key algorithms only: an HMAC "signature" made with the client secret proves nothing
# about the provider, and accepting HS* next to RS* opens the algorithm-confusion attack.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
REQUIRED_ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat")


class TokenRejected(Exception):
    """A token failed a check; the message says which."""


class UnknownSigningKey(TokenRejected):
    """No key of the provider's key set matches the token: the caller may refetch the keys once."""


@dataclass(frozen=True)
class Expected:
    """What a token from this provider to this client must say."""

    issuer: str
    client_id: str
    algorithms: Sequence[str] = ASYMMETRIC_ALGORITHMS
    leeway: float = 60.0


def signing_key(jwks: Mapping[str, Any], header: Mapping[str, Any]) -> jwt.PyJWK:
    """The key of `jwks` (a JWK Set document) that the JWT `header` names, usable for its alg."""
    alg, kid = header.get("alg"), header.get("kid")
    candidates = [
        key
        for key in jwks.get("keys", [])
        if key.get("use", "sig") == "sig"
        and (kid is None or key.get("kid") == kid)
        and key.get("alg", alg) == alg
    ]
    usable = []
    for candidate in candidates:
        try:
            usable.append(jwt.PyJWK(dict(candidate), algorithm=alg))
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue  # a key of another type (EC where RSA is needed, ...)
    if len(usable) == 1:
        return usable[0]
    if not usable:
        raise UnknownSigningKey(f"no signing key with kid {kid!r} for {alg} in the provider's keys")
    raise TokenRejected(f"the token names no key (kid) and the provider has {len(usable)}")


def _header(token: str, expected: Expected) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenRejected(f"not a signed JWT ({error})") from error
    if header.get("alg") not in expected.algorithms:
        accepted = ", ".join(expected.algorithms)
        raise TokenRejected(f"signed with {header.get('alg')!r}; accepted: {accepted}")
    return header


def _decode(token: str, jwks: Mapping[str, Any], expected: Expected, **options) -> dict[str, Any]:
    header = _header(token, expected)
    key = signing_key(jwks, header)
    try:
        return jwt.decode(
            token, key=key, algorithms=list(expected.algorithms), leeway=expected.leeway, **options
        )
    except jwt.InvalidSignatureError as error:
        raise TokenRejected("bad signature") from error
    except jwt.ExpiredSignatureError as error:
        raise TokenRejected("expired") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRejected(f"not issued for client {expected.client_id!r}") from error
    except jwt.InvalidIssuerError as error:
        raise TokenRejected(f"not issued by {expected.issuer!r}") from error
    except jwt.PyJWTError as error:
        raise TokenRejected(str(error)) from error


def verify_id_token(
    token: str,
    jwks: Mapping[str, Any],
    expected: Expected,
    *,
    nonce: str | None,
    subject: str | None = None,
) -> dict[str, Any]:
    """Return the claims of ID token `token` once every check of OIDC Core 3.1.3.7 passes.

    Signature against `jwks`, issuer, audience (and `azp` when there are several), expiry and
    issue time, and `nonce` when one was sent (a login; refreshed tokens pass None). `subject`
    pins `sub`, for tokens that refresh an earlier login.
    """
    claims = _decode(
        token,
        jwks,
        expected,
        audience=expected.client_id,
        issuer=expected.issuer,
        options={"require": list(REQUIRED_ID_TOKEN_CLAIMS), "verify_iat": True},
    )
    audiences = [claims["aud"]] if isinstance(claims["aud"], str) else list(claims["aud"])
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expected.client_id:
        raise TokenRejected(f"authorized party {azp!r} is not client {expected.client_id!r}")
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise TokenRejected("nonce does not match this login")
    if subject is not None and claims["sub"] != subject:
        raise TokenRejected("subject differs from the one that logged in")
    return claims


def verify_userinfo_jwt(
    token: str, jwks: Mapping[str, Any], expected: Expected, *, subject: str
) -> dict[str, Any]:
    """Return the claims of a signed userinfo response (OIDC Core 5.3.2).

    Its signature must verify; `iss` and `aud`, when present, must name this provider and this
    client; `sub` must be the ID token's.
    """
    claims = _decode(
        token,
        jwks,
        expected,
        options={"require": ["sub"], "verify_aud": False, "verify_iss": False},
    )
    if "iss" in claims and claims["iss"] != expected.issuer:
        raise TokenRejected(f"not issued by {expected.issuer!r}")
    if "aud" in claims:
        audiences = [claims["aud"]] if isinstance(claims["aud"], str) else list(claims["aud"])
        if expected.client_id not in audiences:
            raise TokenRejected(f"not issued for client {expected.client_id!r}")
    if claims["sub"] != subject:
        raise TokenRejected("its subject is not the ID token's")
    return claims


def pkce_challenge(code_verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(code_verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def login_nonce(code_challenge: str) -> str:
    """The nonce of the login whose PKCE challenge is `code_challenge`.

    OIDC Core 15.5.2: the nonce is a hash of a secret kept in the browser's session. Here that
    secret is the PKCE verifier in the hub-signed state cookie, so the callback recomputes the
    nonce from the verifier and nothing else has to be stored.
    """
    digest = hashlib.sha256(f"oidc-nonce:{code_challenge}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def expiry(token_info: Mapping[str, Any], received: float) -> float | None:
    """When the access token expires (epoch seconds), from the token response's expires_in."""
    try:
        return received + float(token_info["expires_in"])
    except (KeyError, TypeError, ValueError):
        return None


def expired(expires_at: float | None) -> bool:
    return expires_at is not None and time.time() >= expires_at
