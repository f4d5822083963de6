"""Discovery and signing keys: issuer pinning, https, caching, rate-limited key refetch."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_hds.oidc.discovery import (
    Provider,
    ProviderMetadata,
    ProviderMisconfigured,
    ProviderUnreachable,
)

ISSUER = "https://login.example.org/realms/hds"
DOCUMENT = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
    "userinfo_endpoint": f"{ISSUER}/protocol/openid-connect/userinfo",
    "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs",
    "end_session_endpoint": f"{ISSUER}/protocol/openid-connect/logout",
}


class FakeProvider:
    """Answers like a provider's web server; counts requests; can go down."""

    def __init__(self, document=DOCUMENT):
        self.document = document
        self.keys = {"keys": [{"kid": "1"}]}
        self.requests: list[str] = []
        self.down = False

    async def fetch_json(self, url):
        self.requests.append(url)
        if self.down:
            raise ProviderUnreachable(f"{url}: connection refused")
        return self.document if url.endswith("openid-configuration") else self.keys


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def run(coro):
    return asyncio.run(coro)


def test_endpoints_come_from_the_discovery_document():
    fake = FakeProvider()
    metadata = run(Provider(ISSUER, fake.fetch_json).metadata())
    assert metadata.token_endpoint == DOCUMENT["token_endpoint"]
    assert metadata.end_session_endpoint == DOCUMENT["end_session_endpoint"]
    assert fake.requests == [f"{ISSUER}/.well-known/openid-configuration"]


def test_configured_endpoints_win_and_all_of_them_skip_discovery():
    fake = FakeProvider()
    wallet = "https://wallet.example.org/auth"
    metadata = run(Provider(ISSUER, fake.fetch_json, {"authorization_endpoint": wallet}).metadata())
    assert metadata.authorization_endpoint == wallet
    every = {
        name: DOCUMENT[name] for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
    }
    run(Provider(ISSUER, FakeProvider().fetch_json, every).metadata())
    assert run(Provider(ISSUER, fake.fetch_json, every).metadata()).userinfo_endpoint == ""


@pytest.mark.parametrize(
    ("case_id", "document", "message"),
    [
        ("another issuer", {**DOCUMENT, "issuer": "https://evil.example"}, "names issuer"),
        ("no token endpoint", {**DOCUMENT, "token_endpoint": ""}, "token_endpoint"),
        ("plain http", {**DOCUMENT, "token_endpoint": "http://login.example.org/t"}, "https"),
    ],
)
def test_unusable_documents_are_refused_with_the_reason(case_id, document, message):
    with pytest.raises(ProviderMisconfigured, match=message):
        run(Provider(ISSUER, FakeProvider(document).fetch_json).metadata())


def test_plain_http_is_accepted_on_loopback_only():
    local = "http://127.0.0.1:8100"
    document = {k: v.replace(ISSUER, local) for k, v in DOCUMENT.items()}
    assert ProviderMetadata.build(local, document, {}).issuer == local
    with pytest.raises(ProviderMisconfigured, match="https"):
        ProviderMetadata.build("http://10.0.0.5", {**document, "issuer": "http://10.0.0.5"}, {})


def test_metadata_is_cached_and_a_stale_copy_survives_an_outage():
    fake, clock = FakeProvider(), Clock()
    provider = Provider(ISSUER, fake.fetch_json, cache_seconds=60, clock=clock)
    run(provider.metadata())
    run(provider.metadata())
    assert len(fake.requests) == 1
    clock.now += 61
    fake.down = True
    assert run(provider.metadata()).token_endpoint == DOCUMENT["token_endpoint"]
    assert len(fake.requests) == 2


def test_no_copy_and_provider_down_is_unreachable():
    fake = FakeProvider()
    fake.down = True
    with pytest.raises(ProviderUnreachable):
        run(Provider(ISSUER, fake.fetch_json).metadata())


def test_key_refetch_for_an_unknown_kid_is_rate_limited():
    fake, clock = FakeProvider(), Clock()
    provider = Provider(ISSUER, fake.fetch_json, key_refresh_seconds=30, clock=clock)
    run(provider.jwks())
    fake.keys = {"keys": [{"kid": "2"}]}
    clock.now += 5
    assert run(provider.jwks(refresh=True))["keys"][0]["kid"] == "1"  # too soon: cached copy
    clock.now += 30
    assert run(provider.jwks(refresh=True))["keys"][0]["kid"] == "2"
    assert sum(url.endswith("certs") for url in fake.requests) == 2


def test_a_jwks_that_is_not_a_key_set_is_refused():
    fake = FakeProvider()
    fake.keys = {"error": "not found"}
    with pytest.raises(ProviderMisconfigured, match="not a JWK Set"):
        run(Provider(ISSUER, fake.fetch_json).jwks())
