"""The provider's endpoints and signing keys: from its discovery document, fetched and cached."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlparse

WELL_KNOWN = "/.well-known/openid-configuration"
REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri")

FetchJson = Callable[[str], Awaitable[Any]]


class ProviderUnreachable(Exception):
    """The provider did not answer, or answered with an error page instead of a document."""


class ProviderMisconfigured(Exception):
    """The provider answered, but what it says cannot be used safely; the message says why."""


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + WELL_KNOWN


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(name: str, url: str) -> str:
    """Return `url` if tokens may travel to it: https, or http to this machine (the demo)."""
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return url
    if parsed.scheme == "http" and is_loopback(parsed.hostname):
        return url
    raise ProviderMisconfigured(
        f"{name} {url!r} must be an https:// URL (plain http is only accepted on 127.0.0.1)"
    )


@dataclass(frozen=True)
class ProviderMetadata:
    """The endpoints the hub uses; the names are those of the discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""

    @classmethod
    def build(cls, issuer: str, document: Mapping[str, Any], overrides: Mapping[str, str]):
        """Metadata from a discovery `document`, with the operator's non-empty `overrides` winning.

        The document must name exactly `issuer` (OIDC Discovery 4.3): a document served for
        another issuer would make the hub trust that issuer's tokens.
        """
        if document and document.get("issuer") != issuer:
            raise ProviderMisconfigured(
                f"the discovery document names issuer {document.get('issuer')!r}, "
                f"not the configured {issuer!r}; set the issuer exactly as the provider writes it"
            )
        names = [f.name for f in fields(cls) if f.name != "issuer"]
        values = {name: str(document.get(name) or "") for name in names}
        values.update({name: value for name, value in overrides.items() if value})
        missing = [name for name in REQUIRED if not values.get(name)]
        if missing:
            raise ProviderMisconfigured(f"the provider gives no {', '.join(missing)}")
        for name, value in values.items():
            if value:
                check_url(name, value)
        return cls(issuer=check_url("issuer", issuer), **values)


class Provider:
    """One issuer's metadata and JWK Set, fetched on first use and kept `cache_seconds`.

    When the provider cannot be reached, the last good copy is used. An ID token signed with
    a key not in the cached set triggers one refetch (key rotation), at most every
    `key_refresh_seconds`, so forged `kid`s cannot make the hub hammer the provider.
    """

    def __init__(
        self,
        issuer: str,
        fetch_json: FetchJson,
        overrides: Mapping[str, str] | None = None,
        *,
        cache_seconds: float = 3600,
        key_refresh_seconds: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.issuer = issuer
        self.fetch_json = fetch_json
        self.overrides = dict(overrides or {})
        self.cache_seconds = cache_seconds
        self.key_refresh_seconds = key_refresh_seconds
        self.clock = clock
        self._metadata: ProviderMetadata | None = None
        self._metadata_time = -float("inf")
        self._jwks: dict[str, Any] | None = None
        self._jwks_time = -float("inf")

    def _fresh(self, fetched_at: float) -> bool:
        return self.clock() - fetched_at < self.cache_seconds

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is not None and self._fresh(self._metadata_time):
            return self._metadata
        if all(self.overrides.get(name) for name in REQUIRED):
            # Every endpoint is configured: a provider without discovery works too.
            self._metadata = ProviderMetadata.build(self.issuer, {}, self.overrides)
        else:
            try:
                document = await self.fetch_json(discovery_url(self.issuer))
            except ProviderUnreachable:
                if self._metadata is None:
                    raise
                return self._metadata  # stale, but the provider's endpoints rarely move
            if not isinstance(document, dict):
                raise ProviderMisconfigured(f"{discovery_url(self.issuer)} is not a JSON object")
            self._metadata = ProviderMetadata.build(self.issuer, document, self.overrides)
        self._metadata_time = self.clock()
        return self._metadata

    async def jwks(self, refresh: bool = False) -> dict[str, Any]:
        """The provider's JWK Set; `refresh` asks for a new copy (rate-limited)."""
        stale = self._jwks is None or not self._fresh(self._jwks_time)
        may_refresh = self.clock() - self._jwks_time >= self.key_refresh_seconds
        if stale or (refresh and may_refresh):
            metadata = await self.metadata()
            try:
                document = await self.fetch_json(metadata.jwks_uri)
            except ProviderUnreachable:
                if self._jwks is None:
                    raise
                return self._jwks
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise ProviderMisconfigured(f"{metadata.jwks_uri} is not a JWK Set")
            self._jwks, self._jwks_time = document, self.clock()
        assert self._jwks is not None
        return self._jwks
