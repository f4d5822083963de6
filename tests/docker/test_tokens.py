"""Tokens must not outlive the person: each way in, with each kind of token, through the proxy.

A real hub logs people in with the demo provider and runs their servers in Docker. The ways
in are the hub's REST API and a server's contents through the public proxy; the tokens are a
user's API token, a server's own token ($JUPYTERHUB_API_TOKEN, readable by every kernel) and
the OAuth token a browser gets when it opens a server (JupyterLab's `PageConfig.token`).
"""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from support import docker_engine
from support.hub import make_dataset, make_project
from support.oidc import Browser, account, start_pair

pytestmark = [pytest.mark.hub, pytest.mark.docker]

REFRESH_SECONDS = 3  # the hub asks the provider again after this (300 in the shipped config)
PEOPLE = ["researcher", "researcher2", "rita", "sam"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, docker_client):
    hub, provider = start_pair(
        tmp_path_factory,
        accounts=[account("rita"), account("sam")],
        extra_config=f"""
        c.HDSOIDCAuthenticator.scope = ["openid", "profile", "email", "groups"]
        c.HDSOIDCAuthenticator.allowed_provider_groups = {{"hds-users"}}
        c.HDSOIDCAuthenticator.auth_refresh_age = {REFRESH_SECONDS}
        """,
    )
    make_dataset(hub, "demo", {"cohort.csv": b"id,age\n1,40\n"})
    make_project(hub, "demo", PEOPLE)
    yield hub, provider
    hub.stop()
    provider.stop()


@pytest.fixture(scope="module")
def hub(pair):
    return pair[0]


def open_server(hub, name: str) -> tuple[Browser, str]:
    """`name` logs in, starts their demo server and opens JupyterLab: the browser's OAuth token."""
    browser = Browser(hub)
    assert browser.login(name).status_code == 302
    assert browser.get(f"/hub/spawn/{name}/demo").status_code == 302
    hub.wait_for_server(name, "demo")
    lab = browser.session.get(f"{hub.url}/user/{name}/demo/lab", timeout=60)
    assert lab.status_code == 200, lab.text[:2000]
    page_config = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', lab.text, re.S)
    return browser, json.loads(page_config.group(1))["token"]


def contents(hub, name: str, token: str | None = None, session=None) -> int:
    """Status of listing `name`'s dataset through the public proxy."""
    headers = {"Authorization": f"token {token}"} if token else {}
    response = (session or requests).get(
        f"{hub.url}/user/{name}/demo/api/contents/dataset",
        headers=headers,
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code != 200 or "cohort.csv" in response.text
    return response.status_code


def hub_user(hub, token: str) -> int:
    return hub.api("GET", "/user", token=token).status_code


def server_token(docker_client, name: str) -> str:
    box = docker_client.containers.get(f"{docker_engine.RUN_PREFIX}-{name}--demo")
    env = dict(item.split("=", 1) for item in box.attrs["Config"]["Env"])
    return env["JUPYTERHUB_API_TOKEN"]


def xsrf(browser: Browser) -> dict[str, str]:
    browser.get("/hub/home")
    return {"X-XSRFToken": browser.session.cookies.get("_xsrf", path="/hub/")}


def test_a_researcher_cannot_mint_an_api_token_for_their_server(hub):
    """Seen: a token with `access:servers!user=...` and no expiry read the dataset from anywhere."""
    browser = Browser(hub)
    assert browser.login("researcher").status_code == 302
    asked = {"note": "laptop", "scopes": ["access:servers!user=researcher"]}
    response = browser.session.post(
        f"{hub.url}/hub/api/users/researcher/tokens", json=asked, headers=xsrf(browser), timeout=30
    )
    assert response.status_code == 403, response.text
    assert "no permissions to generate tokens" in response.json()["message"]


def test_api_tokens_made_for_someone_last_a_working_day_at_most(hub):
    made = hub.api("POST", "/users/researcher/tokens", json={"note": "no expiry asked"}).json()
    assert made["expires_at"] is not None
    too_long = hub.api("POST", "/users/researcher/tokens", json={"expires_in": 9 * 3600})
    assert too_long.status_code == 400 and "must not exceed" in too_long.text


def test_a_servers_own_token_cannot_read_its_files_through_the_proxy(hub, docker_client):
    """Seen: $JUPYTERHUB_API_TOKEN, readable by every kernel, listed the dataset from outside."""
    browser, oauth_token = open_server(hub, "researcher")
    token = server_token(docker_client, "researcher")
    assert contents(hub, "researcher", token) == 403
    assert contents(hub, "researcher", oauth_token) == 200  # the browser's way still works
    # On the hub it says whose server it is, and reports activity; nothing else.
    assert hub_user(hub, token) == 200
    # (JupyterHub lets any token read its owner's name and groups: who it is.)
    seen = hub.api("GET", "/users/researcher", token=token).json()
    assert not {"servers", "auth_state"} & set(seen), seen
    started = hub.api("POST", "/users/researcher/servers/other", token=token)
    assert started.status_code == 403


def test_logging_out_ends_the_hub_session_and_the_browsers_server_sessions(hub):
    browser, oauth_token = open_server(hub, "researcher2")
    assert contents(hub, "researcher2", session=browser.session) == 200
    assert browser.get("/hub/logout").status_code == 302
    assert browser.get("/hub/home").status_code == 302  # hub session gone
    assert contents(hub, "researcher2", session=browser.session) != 200
    assert contents(hub, "researcher2", oauth_token) == 403  # the token died with the session
    assert hub_user(hub, oauth_token) == 403


def test_someone_the_provider_drops_loses_every_way_in_and_their_servers_stop(pair, hub):
    provider = pair[1]
    browser, oauth_token = open_server(hub, "rita")
    api_token = hub.api("POST", "/users/rita/tokens", json={"note": "made for rita"}).json()
    assert hub_user(hub, api_token["token"]) == 200
    state = hub.api("GET", "/users/rita").json()["auth_state"]
    client = provider.clients[0]
    revoked = requests.post(  # the provider ends rita's grant (account disabled, person left)
        f"{provider.issuer}/token/revocation",
        data={"token": state["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    time.sleep(REFRESH_SECONDS + 1)

    assert hub_user(hub, api_token["token"]) == 403  # strict: no stale login on tokens
    hub.wait_for_server("rita", "demo", ready=False, timeout=60)
    assert hub_user(hub, oauth_token) == 403
    assert contents(hub, "rita", oauth_token) != 200
    assert contents(hub, "rita", session=browser.session) != 200
    assert browser.get("/hub/home").status_code == 302  # back to the login page


def test_someone_removed_from_every_project_loses_their_servers(hub, docker_client):
    browser, oauth_token = open_server(hub, "sam")
    response = hub.api("DELETE", "/groups/demo/users", json={"users": ["sam"]})
    assert response.status_code == 200, response.text
    hub.wait_for_server("sam", "demo", ready=False, timeout=60)
    assert contents(hub, "sam", oauth_token) != 200
    spawn = browser.get("/hub/spawn/sam/demo")
    assert spawn.status_code == 403 or "/spawn-pending/" not in spawn.headers.get("Location", "")
    assert docker_engine.leftovers(docker_client) == [] or all(
        "sam" not in name for name in docker_engine.leftovers(docker_client)
    )
