"""What a user's server may report (the data-guard contract), and what it may not claim."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from jupyter_hds.audit import handlers
from jupyter_hds.audit.intake import EventRefused, from_hub, from_server
from jupyter_hds.events import Event


def report(**changes):
    event = {
        "id": uuid.uuid4().hex,
        "time": "2025-03-01T10:00:00Z",
        "action": "download.blocked",
        "actor": "alice",
        "project": "cohort-a",
        "target": "dataset/patients.parquet",
        "outcome": "refused",
        "source": "172.18.0.1",
        "details": {"route": "/files/", "method": "GET", "reason": "downloads are blocked"},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def check(raw, may_act=lambda name: name == "bob"):
    return from_server(raw, "alice", "cohort-a", may_act)


def test_a_good_report_is_marked_as_reported_by_its_server():
    event = check(report())
    assert event["reported_by"] == "server:alice/cohort-a"
    assert event["time"] == "2025-03-01T10:00:00.000000Z"
    assert event["actor_kind"] == "user"


def test_a_colleague_who_may_use_the_server_may_be_the_actor():
    assert check(report(actor="bob"))["actor"] == "bob"


def test_a_batch_asks_the_database_once_per_person(monkeypatch):
    asked = []

    def may_use_server(db, name, owner, server):
        asked.append(name)
        return name == "bob"

    monkeypatch.setattr(handlers, "may_use_server", may_use_server)
    batch = [report(actor="bob") for _ in range(300)] + [report(actor="mallory")] * 200
    hub_handler = SimpleNamespace(db=None)
    checked, refusals = handlers.AuditEventsHandler._check(hub_handler, batch, "alice", "cohort-a")
    assert (len(checked), len(refusals)) == (300, 200)
    assert asked == ["bob", "mallory"]


REFUSED = [
    ("other-project", {"project": "cohort-b"}, 403, "claims project 'cohort-b'"),
    ("other-user", {"actor": "mallory"}, 403, "claims user 'mallory'"),
    ("bad-id", {"id": "1234"}, 400, "32 lowercase hex"),
    ("no-id", {"id": ...}, 400, "'id' must be a non-empty string"),
    ("bad-action", {"action": "Download Blocked"}, 400, "not in the catalogue"),
    ("uncatalogued-action", {"action": "download.allowed"}, 400, "not in the catalogue"),
    (
        "a-hub-action",
        {"action": "login", "outcome": "succeeded"},
        403,
        "reported by the hub, not by a user's server",
    ),
    (
        "an-intake-action",
        {"action": "audit.report.missing", "outcome": "failed"},
        403,
        "reported by the hub intake",
    ),
    ("bad-outcome", {"outcome": "succeeded"}, 400, "has outcome refused, not 'succeeded'"),
    ("bad-stream", {"details": {"stream": "x", "serial": 1}}, 400, "details.stream 'x'"),
    ("bad-serial", {"details": {"stream": "a" * 32, "serial": 0}}, 400, "details.serial 0"),
    (
        "serial-not-a-number",
        {"details": {"stream": "a" * 32, "serial": "7"}},
        400,
        "details.serial '7'",
    ),
    ("naive-time", {"time": "2025-03-01T10:00:00"}, 400, "no UTC offset"),
    ("bad-source", {"source": "evil.example"}, 400, "IP address or null"),
    ("bad-details", {"details": ["x"]}, 400, "details must be a JSON object"),
    ("huge-details", {"details": {"x": "y" * 20000}}, 400, "larger than"),
    ("extra-field", {"reported_by": "hub"}, 400, "unknown fields reported_by"),
    ("long-target", {"target": "x" * 5000}, 400, "longer than"),
]


@pytest.mark.parametrize(
    ("case_id", "changes", "status", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_bad_or_false_reports_are_refused(case_id, changes, status, message):
    with pytest.raises(EventRefused, match=message) as refused:
        check(report(**changes))
    assert refused.value.status == status


def test_the_spool_failure_event_of_a_server_is_taken():
    event = check(report(action="guard.spool.failed", outcome="failed", target="/tmp/spool",
                         details={"error": "is a folder", "stream": "b" * 32, "serial": 3}))  # fmt: skip
    assert (event["action"], event["outcome"], event["details"]["serial"]) == (
        "guard.spool.failed", "failed", 3,
    )  # fmt: skip


def test_a_report_that_is_not_an_object_is_refused():
    with pytest.raises(EventRefused, match="JSON object"):
        check(["id"])


def test_hub_events_keep_their_id_and_gain_a_kind():
    event = Event("login", actor="root", outcome="succeeded", source="10.0.0.1")
    entry = from_hub(event, is_admin=lambda name: name == "root")
    assert (entry["id"], entry["actor_kind"], entry["reported_by"]) == (event.id, "admin", "hub")
    assert entry["time"].endswith("Z")


def test_a_server_token_is_hashed_once_while_its_secret_is_the_same(monkeypatch):
    from jupyterhub.utils import hash_token

    compared = []
    compare = handlers.compare_token
    monkeypatch.setattr(handlers, "compare_token", lambda h, t: compared.append(t) or compare(h, t))
    client = SimpleNamespace(secret=hash_token("server-secret"))
    spawner = SimpleNamespace(name="cohort-a", oauth_client=client,
                              server=SimpleNamespace(base_url="/user/alice/cohort-a/"))  # fmt: skip
    token = SimpleNamespace(user=SimpleNamespace(name="alice", _orm_spawners=[spawner]),
                            note="Server at /user/alice/cohort-a/")  # fmt: skip
    for _ in range(3):
        assert handlers.server_of_token(token, "server-secret") == ("alice", "cohort-a")
    assert len(compared) == 1
    assert handlers.server_of_token(token, "another-token") is None
    client.secret = hash_token("new-secret")  # the server restarted: a new secret
    assert handlers.server_of_token(token, "server-secret") is None
    assert handlers.server_of_token(token, "new-secret") == ("alice", "cohort-a")
