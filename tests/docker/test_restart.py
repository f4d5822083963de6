"""Hub restarts keep servers (issue 18): a clean stop and a `kill -9` of the hub while a member's
kernel runs a loop. The kernel survives, the member keeps working through the proxy, the hub
finds the server as it was, and the audit record has no gap.

The proxy runs apart from the hub, as in production (jupyter-hds-proxy.service).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from jupyter_hds.projects import firewall
from jupyter_hds.projects.networks import bridge_of
from support import audit_record
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project
from support.member import Member, heartbeat

pytestmark = pytest.mark.docker

USER, PROJECT = "ann", "keep"
EXTRA_CONFIG = 'c.JupyterHub.authenticator_class = "dummy"\n'


@dataclass
class Restart:
    """One restart, timed (monotonic clock): sent, stopped, answering again, fully started."""

    kind: str
    sent: float
    stopped: float
    answering: float
    started: float
    downloads: int  # refused downloads the member tried: before, while the hub was down, after

    def report(self) -> str:
        return (
            f"{self.kind}: hub gone in {self.stopped - self.sent:.1f} s, its API back through "
            f"the proxy {self.answering - self.stopped:.1f} s after a new start, fully started "
            f"after {self.started - self.stopped:.1f} s"
        )


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client) -> Iterator[RealHub]:
    hub = RealHub(tmp_path_factory.mktemp("restart"), extra_config=EXTRA_CONFIG).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def member(hub) -> Iterator[Member]:
    """ann, her server of `keep` open in her browser session, a kernel looping, requests
    going through the proxy every quarter second."""
    make_dataset(hub, "keep-data", project=PROJECT)
    make_project(hub, PROJECT, [USER], dataset="keep-data")
    assert hub.api("POST", f"/users/{USER}/servers/{PROJECT}").status_code in (201, 202)
    hub.wait_for_server(USER, PROJECT)
    member = Member(hub, USER, PROJECT)
    member.open_server()
    member.run_loop()
    member.keep_working()
    deadline = time.monotonic() + 60
    while len(member.outputs) < 4 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert member.outputs, "the kernel's loop printed nothing"
    yield member
    member.close()


@pytest.fixture(scope="module")
def restarts() -> list[Restart]:
    return []


def blocked_download(member: Member) -> None:
    """A download the data guard refuses: an audit event, even with the hub away."""
    response = member.session.get(f"{member.base}/files/work/heartbeat?download=1", timeout=30)
    assert response.status_code == 403, response.status_code


def restart(hub: RealHub, member: Member, kind: str) -> Restart:
    container = hub_container_id(hub)
    blocked_download(member)
    sent = time.monotonic()
    if kind == "clean stop":
        hub.stop_hub()
    else:
        hub.kill_hub()
    stopped = time.monotonic()
    assert f"/user/{USER}/{PROJECT}" in (hub.proxy_routes() or {}), "the proxy lost the route"
    for _ in range(2):
        blocked_download(member)
    time.sleep(2)  # the member keeps working with the hub away
    hub.start_hub(timeout=120)
    started = time.monotonic()
    blocked_download(member)
    assert hub_container_id(hub) == container, "the server's container was replaced"
    return Restart(kind, sent, stopped, hub.answered_at, started, 4)


def hub_container_id(hub: RealHub) -> str:
    return docker.from_env().containers.get(f"{RUN_PREFIX}-{USER}--{PROJECT}").id


@pytest.mark.parametrize("kind", ["clean stop", "kill -9"])
def test_the_kernel_and_the_members_work_survive_a_hub_restart(hub, member, restarts, kind):
    beats_before = heartbeat(hub, PROJECT, USER)
    done = restart(hub, member, kind)
    restarts.append(done)
    time.sleep(3)  # some work after the hub is back
    end = time.monotonic()
    print(done.report())
    failures = member.failures(done.sent, end)
    assert not failures, f"requests through the proxy failed during the {kind}: {failures}"
    silence = member.longest_silence(done.sent, end)
    print(f"{kind}: longest silence of the kernel's websocket {silence:.2f} s")
    assert silence < 5, f"the kernel's output stopped for {silence:.1f} s"
    beats = heartbeat(hub, PROJECT, USER)
    assert {pid for _, _, pid in beats} == {beats_before[-1][2]}, "the kernel was restarted"
    assert [n for n, _, _ in beats] == list(range(len(beats))), "the loop started again"
    pause = max(b[1] - a[1] for a, b in zip(beats, beats[1:], strict=False))
    assert pause < 2, f"the loop paused {pause:.1f} s"


def test_the_hub_found_the_server_as_it_was(hub, member, restarts):
    assert [r.kind for r in restarts] == ["clean stop", "kill -9"]
    server = hub.api("GET", f"/users/{USER}").json()["servers"][PROJECT]
    assert server["ready"]
    kernel = member.api("GET", f"kernels/{member.kernel}").json()
    assert kernel["execution_state"] == "busy"  # still in the loop
    volume = hub.state_dir / "projects" / PROJECT
    with open("/proc/self/mountinfo") as table:
        assert any(line.split()[4] == str(volume) for line in table), "volume unmounted"
    assert_firewall(hub)
    records = [
        json.loads(line)
        for path in sorted((hub.state_dir / "usage").glob("ledger-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    kinds = [r["kind"] for r in records if r.get("project") == PROJECT and r["kind"] != "project"]
    assert kinds == ["start"], f"the usage ledger's session of {PROJECT}: {kinds}"


def assert_firewall(hub: RealHub) -> None:
    network = docker.from_env().networks.get(f"{RUN_PREFIX}-project-{PROJECT}")
    bridge = bridge_of(network.attrs)
    for rule in firewall.rules_for(bridge, hub.hub_port):
        check = ["iptables", "-w", "-C", firewall.CHAIN, *rule]
        assert subprocess.run(check, capture_output=True).returncode == 0, rule
    guards = subprocess.run(
        ["iptables", "-w", "-S", firewall.CHAIN], capture_output=True, text=True
    ).stdout
    mine = [line for line in guards.splitlines() if f"hds-hub:{hub.hub_port}:" in line]
    assert mine == [line for line in mine if f":{hub.process.pid}" in line] and len(mine) == 1


def test_the_audit_record_has_no_gap(hub, member, restarts):
    """Downloads refused before, during and after each restart are all recorded, once, in
    order; the chain verifies; the server was never recorded as stopped."""
    tried = sum(r.downloads for r in restarts)
    blocked = audit_record.wait_for(
        hub, count=tried, timeout=180, action="download.blocked", person=USER
    )
    assert len(blocked) == tried, [b["details"] for b in blocked]
    serials = [b["details"]["serial"] for b in blocked]
    assert sorted(serials) == list(range(serials[0], serials[0] + tried)), serials
    starts = audit_record.entries(hub, action="audit.start")
    assert len(starts) == 1 + len(restarts)
    stopped = audit_record.entries(hub, project=PROJECT, action="server.stop")  # and .stopped
    stopped += audit_record.entries(hub, project=PROJECT, action="server.exited")
    assert stopped == []
    report = audit_record.verify(hub)
    assert report.intact, report.lines(5)
    hds = Path(sys.executable).parent / "hds"
    verify = subprocess.run(
        [hds, "audit", "verify", "--directory", hub.state_dir / "audit"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verify.returncode == 0 and "chain: intact" in verify.stdout, verify.stdout
