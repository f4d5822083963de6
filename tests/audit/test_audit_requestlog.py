"""Which hub requests become which audit events (the admin panel uses the same REST API)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from jupyter_hds.audit.requestlog import Request, describe, from_handler, might_record


def request(method, path, status=200, body=None, **fields):
    fields.setdefault("actor", "root")
    fields.setdefault("actor_kind", "admin")
    raw = json.dumps(body).encode() if body is not None else b""
    return Request(method=method, path=path, status=status, body=raw, **fields)


CASES = [
    # case id, request, (action, project, target, outcome)
    (
        "user-create",
        request("POST", "api/users/alice", 201),
        ("user.create", None, "alice", "succeeded"),
    ),
    (
        "users-create",
        request("POST", "api/users", 201, {"usernames": ["a", "b"]}),
        ("user.create", None, "a,b", "succeeded"),
    ),
    (
        "user-admin",
        request("PATCH", "api/users/alice", body={"admin": True}),
        ("user.modify", None, "alice", "succeeded"),
    ),
    (
        "user-delete",
        request("DELETE", "api/users/alice", 204),
        ("user.delete", None, "alice", "succeeded"),
    ),
    (
        "group-props",
        request("PUT", "api/groups/cohort-a/properties", body={"plan": "private"}),
        ("group.properties", "cohort-a", "cohort-a", "succeeded"),
    ),
    (
        "group-add",
        request("POST", "api/groups/cohort-a/users", body={"users": ["bob"]}),
        ("group.members.add", "cohort-a", "cohort-a", "succeeded"),
    ),
    (
        "group-remove",
        request("DELETE", "api/groups/cohort-a/users", body={"users": ["bob"]}),
        ("group.members.remove", "cohort-a", "cohort-a", "succeeded"),
    ),
    (
        "group-delete",
        request("DELETE", "api/groups/cohort-a", 204),
        ("group.delete", "cohort-a", "cohort-a", "succeeded"),
    ),
    (
        "server-start",
        request("POST", "api/users/alice/servers/cohort-a", 202),
        ("server.start", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "default-server",
        request("POST", "api/users/alice/server", 201),
        ("server.start", None, "alice/", "succeeded"),
    ),
    (
        "server-stop",
        request("DELETE", "api/users/alice/servers/cohort-a", 204),
        ("server.stop", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "token-create",
        request("POST", "api/users/alice/tokens", 201, {"note": "ci"}),
        ("token.create", None, "alice", "succeeded"),
    ),
    (
        "token-revoke",
        request("DELETE", "api/users/alice/tokens/a12", 204),
        ("token.revoke", None, "alice", "succeeded"),
    ),
    (
        "share-grant",
        request("POST", "api/shares/alice/cohort-a", body={"user": "bob"}),
        ("share.grant", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "share-code",
        request("POST", "api/share-codes/alice/cohort-a"),
        ("share-code.create", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "share-leave",
        request("DELETE", "api/users/bob/shared/alice/cohort-a", 204),
        ("share.leave", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "refused",
        request("POST", "api/users/eve", 403, actor="alice", actor_kind="user"),
        ("user.create", None, "eve", "refused"),
    ),
    (
        "anonymous",
        request("DELETE", "api/users/alice", 403, actor="anonymous", actor_kind="anonymous"),
        ("user.delete", None, "alice", "refused"),
    ),
    (
        "not-found",
        request("DELETE", "api/groups/nope", 404),
        ("group.delete", "nope", "nope", "failed"),
    ),
    (
        "escaped",
        request("POST", "api/users/zo%C3%A9/servers/cohort-a", 202),
        ("server.start", "cohort-a", "zoé/cohort-a", "succeeded"),
    ),
    (
        "unknown-api",
        request("POST", "api/new-thing", 200),
        ("api.post", None, "/hub/api/new-thing", "succeeded"),
    ),
    (
        "refused-read",
        request("GET", "admin", 403, actor="dpo", actor_kind="user"),
        ("api.get", None, "/hub/admin", "refused"),
    ),
    (
        "refused-read-api",
        request("GET", "api/users/bob/tokens", 403, actor="dpo", actor_kind="user"),
        ("api.get", None, "/hub/api/users/bob/tokens", "refused"),
    ),
    (
        "spawn-page",
        request("GET", "spawn/alice/cohort-a", 302, location="/hub/spawn-pending/alice/cohort-a"),
        ("server.start", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "spawn-refused",
        request("POST", "spawn/alice/cohort-a", 403, actor="bob", actor_kind="user"),
        ("server.start", "cohort-a", "alice/cohort-a", "refused"),
    ),
    (
        "open-server",
        request(
            "GET",
            "api/oauth2/authorize",
            302,
            query={
                "client_id": "jupyterhub-user-alice-cohort-a",
                "redirect_uri": "/user/alice/cohort-a/oauth_callback",
            },
        ),
        ("server.open", "cohort-a", "alice/cohort-a", "succeeded"),
    ),
    (
        "open-refused",
        request(
            "GET",
            "api/oauth2/authorize",
            403,
            actor="bob",
            actor_kind="user",
            query={
                "client_id": "jupyterhub-user-alice-cohort-a",
                "redirect_uri": "http://h/user/alice/cohort-a/oauth_callback",
            },
        ),
        ("server.open", "cohort-a", "alice/cohort-a", "refused"),
    ),
    (
        "open-service",
        request("GET", "api/oauth2/authorize", 302, query={"client_id": "service-audit"}),
        ("service.open", None, "audit", "succeeded"),
    ),
]


@pytest.mark.parametrize(("case_id", "req", "expected"), CASES, ids=[c[0] for c in CASES])
def test_requests_become_events(case_id, req, expected):
    event = describe(req)
    assert (event["action"], event["project"], event["target"], event["outcome"]) == expected
    assert (event["actor"], event["actor_kind"]) == (req.actor, req.actor_kind)
    assert event["details"]["status"] == req.status


@pytest.mark.parametrize(("case_id", "req", "expected"), CASES, ids=[c[0] for c in CASES])
def test_what_is_recorded_passes_the_quick_test_first(case_id, req, expected):
    assert might_record(req.method, req.path, req.status)


NOT_RECORDED = [
    ("reads", request("GET", "api/users")),
    ("activity", request("POST", "api/users/alice/activity")),
    ("token-exchange", request("POST", "api/oauth2/token")),
    ("own-route", request("POST", "api/hds/audit/events")),
    ("login-form", request("POST", "login", 302)),
    ("spawn-form", request("GET", "spawn/alice/cohort-a", 200)),
    (
        "spawn-running",
        request("GET", "spawn/alice/cohort-a", 302, location="/user/alice/cohort-a/"),
    ),
    (
        "oauth-to-login",
        request("GET", "api/oauth2/authorize", 302, actor="anonymous", actor_kind="anonymous"),
    ),
    (
        "anonymous-refused-read",
        request("GET", "api/users", 403, actor="anonymous", actor_kind="anonymous"),
    ),
    (
        "own-route-refused",  # the endpoint records its refusals itself
        request("POST", "api/hds/audit/events", 403, actor="erin", actor_kind="user"),
    ),
    (
        "open-unknown-client-refused",  # the authorize route decides, not the refusal rule
        request("GET", "api/oauth2/authorize", 403, actor="bob", actor_kind="user"),
    ),
]


@pytest.mark.parametrize(("case_id", "req"), NOT_RECORDED, ids=[c[0] for c in NOT_RECORDED])
def test_requests_that_change_nothing_are_not_recorded(case_id, req):
    assert describe(req) is None


def test_bodies_are_recorded_with_secrets_masked():
    body = {"note": "ci", "token": "abc", "password": "pw", "nested": [{"client_secret": "s"}]}
    event = describe(request("POST", "api/users/alice/tokens", 201, body))
    assert event["details"]["body"] == {
        "note": "ci",
        "token": "***",
        "password": "***",
        "nested": [{"client_secret": "***"}],
    }


def test_unknown_routes_never_record_their_body():
    event = describe(request("POST", "api/authorizations/token", 200, {"password": "pw"}))
    assert "body" not in event["details"]


def test_large_or_binary_bodies_are_described_not_stored():
    big = describe(request("PUT", "api/groups/g/properties", body={"x": "y" * 10000}))
    assert big["details"]["body_note"].endswith("too large to record")
    raw = Request("PUT", "api/groups/g/properties", 200, body=b"\xff\x00")
    assert describe(raw)["details"]["body_note"] == "2 bytes, not JSON"


def test_errors_carry_their_reason():
    event = describe(request("POST", "api/users/x", 400, reason="Bad Request"))
    assert event["details"]["reason"] == "Bad Request"


class Finished:
    """What the request log reads of a finished Tornado handler; counts who asks who sent it."""

    def __init__(self, method, path, status, user=None):
        self.request = SimpleNamespace(
            method=method, path=path, body=b"", query_arguments={}, remote_ip="10.0.0.1",
            request_time=lambda: 0.01, headers={},
        )  # fmt: skip
        self.settings, self._headers, self._reason = {}, {}, ""
        self.status, self.user, self.asked = status, user, 0
        self.expanded_scopes: set[str] = set()

    def get_status(self):
        return self.status

    @property
    def current_user(self):
        self.asked += 1
        return self.user


def test_a_request_that_cannot_be_recorded_is_not_read_further():
    read = Finished("GET", "/hub/api/users", 200, user=SimpleNamespace(name="root", admin=True))
    assert from_handler(read) is None
    assert read.asked == 0  # most of the hub's requests: nobody is looked up for them
    refused = Finished("GET", "/hub/admin/", 403, user=SimpleNamespace(name="dpo", admin=False))
    event = describe(from_handler(refused))
    assert (event["action"], event["actor"], event["target"]) == ("api.get", "dpo", "/hub/admin")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_every_method_tornado_serves_has_a_catalogued_action(method):
    event = describe(request(method, "api/anything", 403, reason="Forbidden"))
    assert event["action"] == f"api.{method.lower()}"


def test_the_source_is_the_address_the_hubs_proxy_saw_never_x_real_ip():
    through_the_proxy = Finished("POST", "/hub/api/users/x", 201,
                                 user=SimpleNamespace(name="root", admin=True))  # fmt: skip
    through_the_proxy.request.connection = SimpleNamespace(
        context=SimpleNamespace(address=("127.0.0.1", 40000))
    )
    through_the_proxy.request.headers = {
        "X-Real-Ip": "10.9.9.9",
        "X-Forwarded-For": "10.9.9.9, 192.0.2.7",  # the client wrote the first, the proxy the last
    }
    assert describe(from_handler(through_the_proxy))["source"] == "192.0.2.7"
