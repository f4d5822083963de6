"""Server starts and stops, and data-guard reports from real containers, through the real hub."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import docker
import pytest
import requests

from hds_quota.ledger import Ledger
from support import docker_engine
from support.audit_record import EMITTING_LOGIN, entries, verify, wait_for
from support.hub import RealHub, browser_login, make_dataset, make_project

pytestmark = pytest.mark.docker

FRAGMENT = (
    EMITTING_LOGIN
    + """
c.JupyterHub.cleanup_servers = False  # servers outlive a hub restart, as in production
c.Spawner.poll_interval = 2  # the hub notices a dead server within seconds (default: 30 s)
c.JupyterHub.load_roles.append(
    {"name": "hds-test-shares", "scopes": ["shares"], "services": ["hds-test"]}
)
# Low enough for a test to reach: 2 events a second, 20 at once (bob's server floods).
c.AuditIntake.server_rate = 2
c.AuditIntake.server_burst = 20
"""
)

# Run inside a user's container: POST to the hub the way the data guard does (the contract).
SEND = """
import json, os, urllib.error, urllib.request
url = os.environ["JUPYTERHUB_API_URL"] + "/hds/audit/events"
token = os.environ.get("AUDIT_TOKEN") or os.environ["JUPYTERHUB_API_TOKEN"]
request = urllib.request.Request(url, data=os.environ["AUDIT_BODY"].encode(), method="POST",
    headers={"Authorization": "token " + token, "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=20) as response:
        print(json.dumps({"status": response.status, "body": json.load(response)}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": json.loads(error.read() or b"null")}))
except OSError as error:
    print(json.dumps({"status": None, "error": str(error)}))
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client):
    hub = RealHub(tmp_path_factory.mktemp("audit-servers"), extra_config=FRAGMENT).start()
    yield hub
    for user, server in [("alice", "cohort-a"), ("bob", "cohort-b")]:
        hub.api("DELETE", f"/users/{user}/servers/{server}")
    for user, server in [("alice", "cohort-a"), ("bob", "cohort-b")]:
        hub.wait_for_server(user, server, ready=False)
    hub.stop()


def start(hub, user: str, server: str) -> None:
    hub.api("POST", f"/users/{user}")
    response = hub.api("POST", f"/users/{user}/servers/{server}")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server(user, server)


def container(docker_client, user: str, server: str):
    return docker_client.containers.get(f"{docker_engine.RUN_PREFIX}-{user}--{server}")


def server_token(docker_client, user: str, server: str) -> str:
    env = dict(
        v.split("=", 1) for v in container(docker_client, user, server).attrs["Config"]["Env"]
    )
    return env["JUPYTERHUB_API_TOKEN"]


def report(actor="alice", project="cohort-a", **changes) -> dict:
    event = {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "action": "download.blocked",
        "actor": actor,
        "project": project,
        "target": "dataset/patients.parquet",
        "outcome": "refused",
        "source": "10.0.0.7",
        "details": {"route": "/files/", "method": "GET", "reason": "downloads are blocked"},
    }
    return event | changes


def send(docker_client, user, server, events, token=None) -> dict:
    """POST `events` from inside `user`'s container `server`, with its token or `token`."""
    env = {"AUDIT_BODY": json.dumps({"events": events})}
    if token:
        env["AUDIT_TOKEN"] = token
    result = container(docker_client, user, server).exec_run(
        ["python", "-c", SEND], environment=env, user="1000:1000"
    )
    assert result.exit_code == 0, result.output.decode()
    return json.loads(result.output.decode().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def servers(hub):
    """Project cohort-a (alice) and cohort-b (bob), each with its dataset; both servers running."""
    for user, project in [("alice", "cohort-a"), ("bob", "cohort-b")]:
        make_dataset(hub, project, {"patients.csv": b"pseudo_id,sex\na1b2,F\n"})
        make_project(hub, project, [user])
        start(hub, user, project)
    return hub


def test_server_starts_are_recorded(servers):
    hub = servers
    for user, server in [("alice", "cohort-a"), ("bob", "cohort-b")]:
        (request,) = wait_for(hub, action="server.start", project=server)
        assert (request["actor"], request["target"], request["outcome"]) == (
            "service:hds-test", f"{user}/{server}", "succeeded",
        )  # fmt: skip
        (started,) = wait_for(hub, action="server.started", project=server)
        assert (started["actor"], started["target"]) == ("service:jupyterhub", f"{user}/{server}")


def test_a_server_reports_with_its_own_token(servers, docker_client):
    events = [report(), report(action="dataset.read", outcome="allowed")]
    answer = send(docker_client, "alice", "cohort-a", events)
    assert answer == {
        "status": 200,
        "body": {"accepted": [e["id"] for e in events], "refused": []},
    }
    again = send(docker_client, "alice", "cohort-a", events)  # a replay after a lost answer
    assert again["status"] == 200
    ids = {e["id"] for e in events}
    found = wait_for(servers, count=2, project="cohort-a", where=lambda e: e["id"] in ids)
    assert len(found) == 2  # once each, though sent twice
    blocked, read = found
    assert (blocked["action"], read["action"]) == ("download.blocked", "dataset.read")
    assert blocked["reported_by"] == "server:alice/cohort-a"
    assert (blocked["actor"], blocked["outcome"], blocked["source"]) == (
        "alice",
        "refused",
        "10.0.0.7",
    )
    assert blocked["details"]["reason"] == "downloads are blocked"


def test_another_servers_token_is_refused(servers, docker_client):
    bobs = server_token(docker_client, "bob", "cohort-b")
    claim_alice = send(docker_client, "alice", "cohort-a", [report()], token=bobs)
    assert (
        claim_alice["status"] == 403
        and "claims project 'cohort-a'" in claim_alice["body"]["message"]
    )
    from_bob = send(docker_client, "bob", "cohort-b", [report(project="cohort-a")])
    assert from_bob["status"] == 403
    as_alice = send(docker_client, "bob", "cohort-b", [report(actor="alice", project="cohort-b")])
    assert as_alice["status"] == 403 and "claims user 'alice'" in as_alice["body"]["message"]
    forged = send(docker_client, "alice", "cohort-a", [report()], token=uuid.uuid4().hex)
    assert forged["status"] == 401
    refused = wait_for(servers, count=4, action="audit.report.refused")
    assert {e["target"] for e in refused} >= {"server:bob/cohort-b", None}
    assert not [
        e for e in entries(servers, project="cohort-a") if e["reported_by"] == "server:bob/cohort-b"
    ]


def test_a_batch_is_judged_event_by_event(servers, docker_client):
    good, false_claim = report(), report(actor="mallory")
    answer = send(docker_client, "alice", "cohort-a", [good, false_claim])
    assert answer["status"] == 200
    assert answer["body"]["accepted"] == [good["id"]]
    [refused] = answer["body"]["refused"]
    assert (refused["id"], refused["status"]) == (false_claim["id"], 403)
    assert "claims user 'mallory'" in refused["reason"]
    wait_for(servers, project="cohort-a", where=lambda e: e["id"] == good["id"])
    # The false claim is kept as evidence inside the refusal, never as a trusted entry.
    (evidence,) = wait_for(
        servers,
        action="audit.report.refused",
        where=lambda e: false_claim["id"] in e["details"].get("event", ""),
    )
    assert evidence["target"] == "server:alice/cohort-a"
    assert not [e for e in entries(servers, person="mallory") if e["action"] == "download.blocked"]


def test_a_colleague_the_server_is_shared_with_may_be_the_actor(servers, docker_client):
    hub = servers
    refused = send(docker_client, "alice", "cohort-a", [report(actor="bob")])
    assert refused["status"] == 403
    shared = hub.api("POST", "/shares/alice/cohort-a", json={"user": "bob"})
    assert shared.status_code == 200, shared.text
    (grant,) = wait_for(hub, action="share.grant")
    assert (grant["target"], grant["details"]["body"]) == ("alice/cohort-a", {"user": "bob"})
    accepted = send(docker_client, "alice", "cohort-a", [report(actor="bob")])
    assert accepted["status"] == 200
    (found,) = wait_for(hub, person="bob", project="cohort-a", action="download.blocked")
    assert found["reported_by"] == "server:alice/cohort-a"


def test_an_auditor_cannot_open_a_researchers_server(servers):
    session = browser_login(servers, "dpo")
    response = session.get(f"{servers.url}/user/alice/cohort-a/lab", timeout=60)
    assert response.status_code == 403
    (refused,) = wait_for(servers, action="server.open", person="dpo")
    assert (refused["target"], refused["outcome"]) == ("alice/cohort-a", "refused")


def test_an_auditor_cannot_start_a_server(servers):
    token = servers.api("POST", "/users/dpo/tokens", json={"note": "t"}).json()["token"]
    response = servers.api("POST", "/users/dpo/servers/cohort-a", token=token)
    assert response.status_code == 403
    (refused,) = wait_for(servers, action="server.refused", person="dpo")
    assert refused["details"]["reason"] == "not-member"


def test_the_data_guard_reports_through_the_real_endpoint(servers):
    """A real download attempt and a real dataset read in alice's server, recorded by the hub."""
    token = servers.api("POST", "/users/alice/tokens", json={"note": "browser"}).json()["token"]
    base = f"{servers.url}/user/alice/cohort-a"
    headers = {"Authorization": f"token {token}"}
    csv = "dataset/patients.csv"
    blocked = requests.get(f"{base}/files/{csv}?download=1", headers=headers, timeout=60)
    assert blocked.status_code == 403
    read = requests.get(f"{base}/api/contents/{csv}?format=text", headers=headers, timeout=60)
    assert read.status_code == 200
    for action, outcome in [("download.blocked", "refused"), ("dataset.read", "allowed")]:
        (entry,) = wait_for(servers, timeout=60, action=action, where=lambda e: e["target"] == csv)
        assert (entry["actor"], entry["project"], entry["outcome"]) == (
            "alice",
            "cohort-a",
            outcome,
        )
        assert entry["reported_by"] == "server:alice/cohort-a"


def test_reports_sent_while_the_hub_restarts_are_accepted_after(servers, docker_client):
    hub = servers
    held = [report(action="dataset.copy.blocked"), report(action="export.blocked")]
    hub.stop(unmount=False)  # the servers keep running, as in a hub restart
    down = send(docker_client, "alice", "cohort-a", held)
    assert down["status"] is None  # the hub is down: the data guard keeps these in its spool
    hub.start()
    hub.wait_for_server("alice", "cohort-a")
    first = send(docker_client, "alice", "cohort-a", held)  # the same token, after the restart
    assert first == {"status": 200, "body": {"accepted": [e["id"] for e in held], "refused": []}}
    assert send(docker_client, "alice", "cohort-a", held)["status"] == 200
    (exported,) = wait_for(hub, project="cohort-a", action="export.blocked")
    (copied,) = wait_for(hub, project="cohort-a", action="dataset.copy.blocked")
    assert {exported["id"], copied["id"]} == {e["id"] for e in held}


def test_the_source_of_a_hub_request_cannot_be_chosen_by_the_client(servers):
    """Seen on the old code: `X-Real-Ip: 10.9.9.9` through the proxy became the source."""
    hub = servers
    for name, forged in [("forger-a", {"X-Real-Ip": "10.9.9.9"}),
                         ("forger-b", {"X-Forwarded-For": "10.9.9.9"}),
                         ("forger-c", {"X-Real-Ip": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"})]:  # fmt: skip
        headers = {"Authorization": f"token {hub.token}", **forged}
        response = requests.post(f"{hub.url}/hub/api/users/{name}", headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        (created,) = wait_for(hub, action="user.create", where=lambda e, n=name: e["target"] == n)
        assert created["source"] == "127.0.0.1", (forged, created["source"])


def test_numbers_a_server_skipped_are_recorded_as_missing(servers, docker_client):
    stream = uuid.uuid4().hex
    numbered = [report(details={"reason": "r", "stream": stream, "serial": n}) for n in (1, 2, 5)]
    assert send(docker_client, "alice", "cohort-a", numbered[:2])["status"] == 200
    assert send(docker_client, "alice", "cohort-a", numbered[2:])["status"] == 200
    (missing,) = wait_for(servers, action="audit.report.missing",
                          where=lambda e: e["details"]["stream"] == stream)  # fmt: skip
    assert (missing["target"], missing["outcome"]) == ("server:alice/cohort-a", "failed")
    assert (missing["details"]["first"], missing["details"]["last"]) == (3, 4)


FLOOD = """
import json, os, urllib.error, urllib.request, uuid
from datetime import datetime, timezone
url = os.environ["JUPYTERHUB_API_URL"] + "/hds/audit/events"
statuses, retry_after = [], None
for n in range(60):
    event = {"id": uuid.uuid4().hex, "time": datetime.now(timezone.utc).isoformat(),
             "action": "download.blocked", "actor": "bob", "project": "cohort-b",
             "target": f"work/flood-{n}.csv", "outcome": "refused", "source": None,
             "details": {"reason": "flood"}}
    request = urllib.request.Request(url, data=json.dumps({"events": [event]}).encode(),
        method="POST", headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"],
                                "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            statuses.append(response.status)
    except urllib.error.HTTPError as error:
        statuses.append(error.code)
        retry_after = error.headers.get("Retry-After")
print(json.dumps({"statuses": statuses, "retry_after": retry_after}))
"""


def test_a_flooding_server_is_refused_and_that_is_recorded_once(servers, docker_client):
    """Read on the old code: no limit at all (every request accepted, every event written)."""
    result = container(docker_client, "bob", "cohort-b").exec_run(
        ["python", "-c", FLOOD], user="1000:1000"
    )
    assert result.exit_code == 0, result.output.decode()
    flood = json.loads(result.output.decode().strip().splitlines()[-1])
    statuses = flood["statuses"]
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) < 40 and statuses[-1] == 429
    assert int(flood["retry_after"]) >= 1
    time.sleep(3)  # let the audit service drain what the hub took
    limited = entries(servers, action="audit.report.limited")
    assert [(e["target"], e["details"]["limit"]) for e in limited] == [
        ("server:bob/cohort-b", "rate")
    ]
    accepted = [e for e in entries(servers, project="cohort-b")
                if (e["target"] or "").startswith("work/flood-")]  # fmt: skip
    assert len(accepted) == statuses.count(200)


def own_server(hub, user: str, project: str) -> None:
    """A server of this test's own (the module's two serve the other tests, in any order)."""
    make_dataset(hub, project, {"patients.csv": b"pseudo_id,sex\nc3d4,M\n"})
    make_project(hub, project, [user])
    start(hub, user, project)


def test_a_server_that_dies_by_itself_is_recorded_as_exited(servers, docker_client):
    hub = servers
    own_server(hub, "cid", "cohort-c")
    container(docker_client, "cid", "cohort-c").kill()  # SIGKILL, as the kernel's OOM killer
    (exited,) = wait_for(hub, action="server.exited", project="cohort-c")
    assert (exited["actor"], exited["target"], exited["outcome"]) == (
        "service:jupyterhub", "cid/cohort-c", "failed",
    )  # fmt: skip
    assert exited["details"]["exit_code"] == 137 and exited["details"]["oom_killed"] is False
    hub.wait_for_server("cid", "cohort-c", ready=False)
    assert not hub.api("GET", "/users/cid").json()["servers"]
    ledger = Ledger(hub.state_dir / "usage")
    deadline = time.monotonic() + 30
    while True:  # written last, after the container is removed
        lines = [line for path in ledger.files() for line in path.read_text().splitlines()]
        stops = [r for r in map(json.loads, lines) if r["kind"] == "stop"]
        if any(r["project"] == "cohort-c" for r in stops) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    stops = [r for r in stops if r["project"] == "cohort-c"]
    assert [r["reason"] for r in stops] == ["exited"]  # for the invoice: it ended by itself
    with pytest.raises(docker.errors.NotFound):  # removed once its end was read
        container(docker_client, "cid", "cohort-c")


def test_server_stops_are_recorded_and_the_chain_is_intact(servers):
    hub = servers
    own_server(hub, "dan", "cohort-d")
    assert hub.api("DELETE", "/users/dan/servers/cohort-d").status_code in (202, 204)
    hub.wait_for_server("dan", "cohort-d", ready=False)
    (stop,) = wait_for(hub, action="server.stop", project="cohort-d")
    assert (stop["actor"], stop["target"]) == ("service:hds-test", "dan/cohort-d")
    (stopped,) = wait_for(hub, action="server.stopped", project="cohort-d")
    assert stopped["actor"] == "service:jupyterhub"
    report_ = verify(hub)
    assert report_.intact, report_.lines()
