"""Logging in through the real hub with the real demo provider: the flow, its refusals, logout."""

from __future__ import annotations

import copy
import re

import pytest
import requests

from support.oidc import Browser, Forms, account, read_events, start_pair

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    hub, provider = start_pair(
        tmp_path_factory,
        accounts=[
            account("outsider", groups=["another-service"]),
            # Another person at the provider, renamed to an existing hub user's name.
            account("impostor", preferred_username="researcher2"),
        ],
        client_id="jupyter-hds-demo",
        demo_fragment=True,
    )
    yield hub, provider
    hub.stop()
    provider.stop()


@pytest.fixture
def hub(pair):
    return pair[0]


@pytest.fixture
def provider(pair):
    return pair[1]


def events_of(hub, action):
    return [e for e in read_events(hub.events_path) if e["action"] == action]


def auth_state(hub, username):
    return hub.api("GET", f"/users/{username}").json().get("auth_state")


def assert_failure_page(response, status, words):
    assert response.status_code == status, response.text[:2000]
    assert "Login failed" in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    assert re.search(words, response.text), response.text[:3000]
    assert "/hub/oauth_login" in response.text  # the way back in


def test_authorization_code_flow_with_pkce_and_nonce_logs_in(hub, provider):
    browser = Browser(hub)
    assert "Sign in with the demo identity provider" in browser.get("/hub/login").text
    page = browser.start_login()
    assert page.status_code == 200 and "Demo identity provider" in page.text
    sent = browser.authorize_params()
    assert sent["response_type"] == "code" and sent["client_id"] == "jupyter-hds-demo"
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert len(sent["nonce"]) >= 32 and sent["state"]
    assert set(sent["scope"].split()) == {"openid", "profile", "email", "groups"}

    callback = browser.submit_login(page, "researcher")
    done = browser.session.get(callback, allow_redirects=False, timeout=30)
    assert done.status_code == 302 and done.headers["Location"].endswith("/hub/home")
    home = browser.get("/hub/home")
    assert home.status_code == 200 and "researcher" in home.text

    state = auth_state(hub, "researcher")
    assert state["id_token_claims"]["nonce"] == sent["nonce"]
    assert state["id_token_claims"]["iss"] == provider.issuer
    assert state["oauth_user"]["given_name"] == "Rosalind" and state["refresh_token"]
    model = hub.api("GET", "/users/researcher").json()
    assert model["admin"] is False

    (login,) = [e for e in events_of(hub, "login") if e["actor"] == "researcher"]
    assert login["outcome"] == "succeeded" and login["source"] == "127.0.0.1"
    assert login["details"]["provider"] == provider.issuer


def test_admin_comes_from_the_provider_groups_claim(hub):
    assert Browser(hub).login("admin").status_code == 302
    assert Browser(hub).login("researcher").status_code == 302  # in the provider's groups too
    # The hosting team is the hds-admins group (admin panel, no access to researchers'
    # servers), never JupyterHub's all-powerful admin flag.
    assert hub.api("GET", "/users/admin").json()["admin"] is False
    assert "admin" in hub.api("GET", "/groups/hds-admins").json()["users"]
    assert "researcher" not in hub.api("GET", "/groups/hds-admins").json()["users"]


def test_user_not_allowed_is_refused_and_recorded(hub):
    response = Browser(hub).login("outsider")
    assert_failure_page(response, 403, "not currently authorized")
    assert hub.api("GET", "/users/outsider").status_code == 404
    failed = [e for e in events_of(hub, "login.failed") if e["actor"] == "outsider"]
    assert failed and failed[-1]["details"]["reason"] == "not_allowed"
    assert failed[-1]["outcome"] == "failed"


def test_a_renamed_provider_account_cannot_take_over_a_hub_user(hub):
    assert Browser(hub).login("researcher2").status_code == 302  # binds researcher2 to its sub
    response = Browser(hub).login("impostor")
    assert_failure_page(response, 403, "belongs to another account")
    failure = events_of(hub, "login.failed")[-1]
    assert failure["details"]["reason"] == "identity_mismatch"
    assert failure["actor"] == "researcher2"


def test_replayed_code_is_refused(hub):
    browser = Browser(hub)
    callback = browser.submit_login(browser.start_login(), "researcher2")
    cookies = copy.deepcopy(browser.session.cookies)  # the state cookie, as a thief would have it
    assert browser.session.get(callback, allow_redirects=False, timeout=30).status_code == 302

    thief = requests.Session()
    thief.cookies = cookies
    replay = thief.get(callback, allow_redirects=False, timeout=30)
    assert_failure_page(replay, 400, "already used or has expired")
    assert events_of(hub, "login.failed")[-1]["details"]["reason"] == "code_rejected"


def test_wrong_state_is_refused(hub):
    browser = Browser(hub)
    callback = browser.submit_login(browser.start_login(), "researcher2")
    forged = re.sub(r"state=[^&]+", "state=eyJzdGF0ZV9pZCI6ICJmb3JnZWQifQ", callback)
    response = browser.session.get(forged, allow_redirects=False, timeout=30)
    assert_failure_page(response, 400, "did not start in this browser")
    assert events_of(hub, "login.failed")[-1]["details"]["reason"] == "state_mismatch"


def test_answer_naming_another_issuer_is_refused(hub):
    browser = Browser(hub)
    callback = browser.submit_login(browser.start_login(), "researcher2")
    assert "iss=" in callback  # the demo provider names itself (RFC 9207)
    mixed_up = re.sub(r"iss=[^&]+", "iss=https%3A%2F%2Fevil.example", callback)
    response = browser.session.get(mixed_up, allow_redirects=False, timeout=30)
    assert_failure_page(response, 400, "did not come from the hub")
    assert events_of(hub, "login.failed")[-1]["details"]["reason"] == "issuer_mismatch"


def test_login_cancelled_at_the_provider_shows_why(hub):
    browser = Browser(hub)
    page = browser.start_login()
    abort = [f for f in Forms(page.text).forms if "abort" in f["action"]]
    response = browser.session.post(
        requests.compat.urljoin(page.url, abort[0]["action"]), allow_redirects=False, timeout=30
    )
    callback = browser.follow(response, stop_at=f"{hub.url}/hub/oauth_callback").next_url
    answer = browser.session.get(callback, allow_redirects=False, timeout=30)
    assert_failure_page(answer, 400, "access_denied")
    assert events_of(hub, "login.failed")[-1]["details"]["reason"] == "provider_error"


def test_logout_ends_the_hub_and_the_provider_sessions(hub, provider):
    browser = Browser(hub)
    assert browser.login("auditor").status_code == 302
    # Control: while the provider session lives, a new login comes straight back with a code.
    again = browser.start_login()
    assert again.is_redirect and again.next_url.startswith(f"{hub.url}/hub/oauth_callback")

    to_provider = browser.get("/hub/logout")
    assert to_provider.status_code == 302
    end_session = to_provider.headers["Location"]
    assert end_session.startswith(f"{provider.issuer}/session/end?")
    assert "id_token_hint=" in end_session and "post_logout_redirect_uri=" in end_session
    assert auth_state(hub, "auditor") is None  # the hub dropped the tokens
    assert browser.get("/hub/home").status_code == 302  # hub session gone

    confirm = browser.session.get(end_session, allow_redirects=False, timeout=30)
    form = next(f for f in Forms(confirm.text).forms)
    back = browser.session.post(
        form["action"], data={**form["inputs"], "logout": "yes"}, allow_redirects=False, timeout=30
    )
    assert back.is_redirect and back.headers["Location"].startswith(f"{hub.url}/hub/login")

    page = browser.start_login()
    assert page.status_code == 200 and 'name="password"' in page.text  # must log in again
    (logout,) = [e for e in events_of(hub, "logout") if e["actor"] == "auditor"]
    assert logout["outcome"] == "succeeded" and logout["source"] == "127.0.0.1"
