"""Guests in a shared server: admitted on a fresh answer from the hub, cut off when it says no."""

from __future__ import annotations

import logging

import pytest
from jupyterhub.services.auth import check_scopes
from tornado.websocket import WebSocketHandler

from hds_collaboration import guests
from hds_collaboration.guests import GuestWatch, refusal

ACCESS = {"access:servers!server=alice/alpha"}
CAROL = {"kind": "user", "name": "carol", "groups": ["alpha"], "scopes": sorted(ACCESS)}


def scopes_check(required, model):
    return check_scopes(required, set(model["scopes"]))


@pytest.mark.parametrize(
    "case_id, model, expected",
    [
        ("allowed", CAROL, None),
        ("token-gone", None, "no longer accepts their login"),
        ("share-revoked", {**CAROL, "scopes": []}, "no longer shared with them"),
        ("left-project", {**CAROL, "groups": ["beta"]}, "no longer a member of project alpha"),
        ("groups-unknown", {k: v for k, v in CAROL.items() if k != "groups"}, "no longer a member"),
    ],
)
def test_refusal(case_id, model, expected):
    reason = refusal(model, ACCESS, "alpha", scopes_check)
    assert (reason is None) if expected is None else (expected in reason)


class FakeHubAuth:
    access_scopes = ACCESS

    def __init__(self):
        self.answers: list = []  # what the hub says next (a model, None, or an exception)
        self.asked = 0

    def get_token(self, handler):
        return handler.token

    def get_session_id(self, handler):
        return "session"

    def check_scopes(self, required, model):
        return scopes_check(required, model)

    async def user_for_token(self, token, use_cache=True, session_id="", sync=True):
        assert use_cache is False, "guests must be checked without the single-user cache"
        self.asked += 1
        answer = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Request:
    remote_ip = "10.0.0.9"


class Page:
    """A plain HTTP request handler, as far as the watch looks at it."""

    request = Request()

    def __init__(self, token="carol-token"):
        self.token = token


class Socket(WebSocketHandler):
    """An open websocket, without tornado's machinery."""

    request = Request()

    def __init__(self, token="carol-token"):  # noqa: D107 (no tornado setup)
        self.token = token
        self.closed_with = None

    @property
    def ws_connection(self):
        return None if self.closed_with else self

    def is_closing(self):
        return False

    def close(self, code=None, reason=None):
        self.closed_with = (code, reason)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(guests.time, "monotonic", clock)
    return clock


@pytest.fixture
def watch(clock):
    recorded = []
    watch = GuestWatch(
        FakeHubAuth(), "alice", "alpha", interval=2.0, log=logging.getLogger("test"),
        record=lambda *args, **kw: recorded.append((args[0], args[1], args[2], kw)),
    )  # fmt: skip
    watch.recorded = recorded
    return watch


def test_owner_and_services_are_not_guests(watch):
    assert not watch.is_guest({"kind": "user", "name": "alice"})
    assert not watch.is_guest({"kind": "service", "name": "audit"})
    assert watch.is_guest({"kind": "user", "name": "carol"})


async def test_guest_is_checked_fresh_then_at_most_every_interval(watch, clock):
    watch.hub_auth.answers = [CAROL]
    assert await watch.admit(Page(), CAROL) is None
    assert await watch.admit(Page(), CAROL) is None
    assert watch.hub_auth.asked == 1
    clock.now += 2.0
    assert await watch.admit(Page(), CAROL) is None
    assert watch.hub_auth.asked == 2
    assert [r[0] for r in watch.recorded] == ["collaboration.guest.admitted"]


async def test_revoked_guest_loses_websockets_and_requests(watch, clock):
    watch.hub_auth.answers = [CAROL]
    document, kernel = Socket(), Socket()
    assert await watch.admit(document, CAROL) is None
    assert await watch.admit(kernel, CAROL) is None
    watch.hub_auth.answers = [{**CAROL, "groups": []}]  # removed from the project
    await watch.sweep()
    assert document.closed_with is None, "re-checked before the interval passed"
    clock.now += 2.0
    await watch.sweep()
    assert document.closed_with[0] == kernel.closed_with[0] == 1008
    assert "no longer a member of project alpha" in document.closed_with[1]
    assert "no longer a member" in await watch.admit(Page(), CAROL)
    assert watch.recorded[-1][:3] == ("collaboration.guest.cut_off", "carol", "refused")


async def test_share_given_back_lets_the_guest_in_again(watch, clock):
    watch.hub_auth.answers = [{**CAROL, "scopes": []}]
    assert "no longer shared" in await watch.admit(Page(), CAROL)
    clock.now += 2.0
    watch.hub_auth.answers = [CAROL]
    assert await watch.admit(Page(), CAROL) is None


async def test_hub_unreachable_keeps_checked_guests_and_refuses_unchecked(watch, clock):
    watch.hub_auth.answers = [ConnectionError("hub restarting")]
    assert "could not confirm" in await watch.admit(Page("dave-token"), {**CAROL, "name": "dave"})
    watch.hub_auth.answers = [CAROL]
    socket = Socket()
    assert await watch.admit(socket, CAROL) is None
    clock.now += 2.0
    watch.hub_auth.answers = [ConnectionError("hub restarting")]
    await watch.sweep()
    assert socket.closed_with is None


async def test_idle_guests_are_forgotten(watch, clock):
    watch.hub_auth.answers = [CAROL]
    await watch.admit(Page(), CAROL)
    clock.now += 3601
    await watch.sweep()
    assert watch.guests == {}
