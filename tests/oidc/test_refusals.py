"""Attacks and outages at login, through the real hub: tampered ID tokens, a provider down."""

from __future__ import annotations

import pytest

from support.hub import RealHub, free_port
from support.oidc import Browser, TokenProxy, oidc_hub_config, read_events, start_pair

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A hub whose token requests go through a man in the middle (explicit token_url)."""
    proxy = TokenProxy("")  # the provider's port is known once the pair is built
    hub, provider = start_pair(
        tmp_path_factory,
        extra_config=f"""
        c.HDSOIDCAuthenticator.token_url = {proxy.url!r}
        c.HDSOIDCAuthenticator.allowed_users = {{"researcher"}}
        """,
    )
    proxy.token_endpoint = f"{provider.issuer}/token"
    yield hub, provider, proxy
    proxy.close()
    hub.stop()
    provider.stop()


@pytest.fixture
def hub(proxied):
    return proxied[0]


@pytest.fixture
def provider(proxied):
    return proxied[1]


def last_failure(hub):
    return [e for e in read_events(hub.events_path) if e["action"] == "login.failed"][-1]


def test_untampered_tokens_through_the_proxy_log_in(hub, provider, proxied):
    proxied[2].mode = None
    assert Browser(hub).login("researcher").status_code == 302


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("payload", "bad signature"),
        ("other-key", "bad signature"),
        ("alg-none", "signed with 'none'"),
    ],
)
def test_tampered_id_token_is_refused(hub, provider, proxied, mode, detail):
    proxied[2].mode = mode
    try:
        response = Browser(hub).login("researcher")
    finally:
        proxied[2].mode = None
    assert response.status_code == 400, response.text[:2000]
    assert "could not be verified" in response.text and "Traceback" not in response.text
    failure = last_failure(hub)
    assert failure["details"]["reason"] == "id_token_invalid"
    assert detail in failure["details"]["detail"]


def test_provider_down_at_the_token_exchange_is_a_clear_page(hub, provider, proxied):
    browser = Browser(hub)
    callback = browser.submit_login(browser.start_login(), "researcher")
    proxied[2].mode = "down"
    try:
        response = browser.session.get(callback, allow_redirects=False, timeout=30)
    finally:
        proxied[2].mode = None
    assert response.status_code == 400
    assert "cannot be reached right now" in response.text
    assert last_failure(hub)["details"]["reason"] == "provider_unreachable"


def test_provider_down_before_login_is_a_clear_page(tmp_path_factory):
    work = tmp_path_factory.mktemp("hub-no-provider")
    client = {"client_id": "hub", "client_secret": "not-used"}
    issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = oidc_hub_config(
        client, issuer, work / "events.jsonl", "c.Authenticator.allow_all = True"
    )
    hub = RealHub(work, extra_config=config, env={"JUPYTERHUB_CRYPT_KEY": "00" * 32}).start()
    hub.events_path = work / "events.jsonl"
    try:
        response = Browser(hub).get("/hub/oauth_login")
    finally:
        hub.stop()
    assert response.status_code == 400, response.text[:2000]
    assert "cannot be reached right now" in response.text and "Traceback" not in response.text
    failure = last_failure(hub)
    assert failure["details"]["reason"] == "provider_unreachable"
    assert failure["actor"] == "anonymous" and failure["source"] == "127.0.0.1"


def test_hub_without_an_issuer_refuses_to_start_and_says_what_to_write(tmp_path):
    hub = RealHub(
        tmp_path,
        extra_config='c.JupyterHub.authenticator_class = "hds-oidc"\n',
        env={"JUPYTERHUB_CRYPT_KEY": "00" * 32},
    )
    with pytest.raises(RuntimeError, match="the hub exited") as exited:
        hub.start(timeout=30)
    assert "HDSOIDCAuthenticator.issuer is not set: write c.HDSOIDCAuthenticator.issuer" in str(
        exited.value
    )
