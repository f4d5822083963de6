"""A guest entering a shared server is recorded as opening it, like its owner is."""

from __future__ import annotations

from jupyter_hds.audit.requestlog import Request, describe

QUERY = {
    "client_id": "jupyterhub-user-alice-alpha",
    "redirect_uri": "http://alice.hub.example.org/user/alice/alpha/oauth_callback",
}


def guest(method: str, status: int) -> Request:
    return Request(method, "api/oauth2/authorize", status, "carol", "user", query=QUERY)


def test_the_hubs_confirmation_page_is_not_an_entry():
    assert describe(guest("GET", 200)) is None


def test_the_guest_confirming_is_recorded_as_opening_the_owners_server():
    event = describe(guest("POST", 302))
    assert (event["action"], event["actor"], event["target"], event["project"]) == (
        "server.open", "carol", "alice/alpha", "alpha",
    )  # fmt: skip
    assert event["outcome"] == "succeeded"


def test_an_outsider_refused_at_the_door_is_recorded_too():
    event = describe(Request("GET", "api/oauth2/authorize", 403, "bob", "user", query=QUERY))
    assert (event["action"], event["actor"], event["outcome"]) == ("server.open", "bob", "refused")
