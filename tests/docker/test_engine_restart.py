"""A Docker engine restart (issue 18): project networks, the HDS firewall rules and isolation hold
while the engine comes back; the hub records the servers it lost and starts them again cleanly.

This test stops and starts the engine other tests use. It waits until no container but its
own exists and no other docker-tier pytest runs (HDS_ENGINE_WAIT seconds, 300 by default),
and fails, naming them, if they stay; it never restarts the engine less than a minute after
the last restart; it starts it again with scripts/ensure-docker.sh, as `make` does.

While the engine comes back, probe containers with a restart policy (the first containers to
run again) try, from project A's network, project B's listener and a port of the host, and
a probe on B's network reaches that listener (the control). Servers themselves have no
restart policy: the engine stops them, and the hub notices at its next poll.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from jupyter_hds.projects import firewall
from jupyter_hds.projects.networks import bridge_of, gateway_address
from support import audit_record
from support.docker_engine import RUN_PREFIX, connect
from support.hub import ROOT, RealHub, make_dataset, make_project
from support.image import IMAGE
from support.reach import REACH

pytestmark = pytest.mark.docker

SERVERS = [f"{RUN_PREFIX}-ann--east", f"{RUN_PREFIX}-bob--west"]
STAMP = Path("/var/tmp/hds-engine-restart.stamp")  # when a test last restarted the engine
WAIT = float(os.environ.get("HDS_ENGINE_WAIT", "300"))
PORT = 8888
# Command lines of what drives the engine besides pytest.
DRIVERS = ("tests/benchmarks/", "images/build.py", "docker build", "scripts/up.sh", "make up")
# A probe: every 0.2 s, each target ("ip:port", or "@file" naming a file that holds the ip)
# tried, one JSON line per round in /probe/<name>.log (a host folder: it outlives restarts).
PROBE = r"""
import json, socket, sys, time
name, targets = sys.argv[1], sys.argv[2:]
def address(target):
    if target.startswith("@"):
        try:
            return open(target[1:]).read().strip() + f":{PORT}"
        except OSError:
            return None
    return target
def knock(target):
    if target is None:
        return "unknown"
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
        return "open"
    except OSError as error:
        return type(error).__name__
with open(f"/probe/{name}.log", "a", buffering=1) as log:
    while True:
        log.write(json.dumps({"t": time.time(), **{t: knock(address(t)) for t in targets}}) + "\n")
        time.sleep(0.2)
""".replace("{PORT}", str(PORT))
LISTENER = r"""
import socket
server = socket.socket()
server.bind(("0.0.0.0", PORT))
server.listen()
open("/probe/listener-ip", "w").write(socket.gethostbyname(socket.gethostname()))
while True:
    server.accept()[0].close()
""".replace("PORT", str(PORT))


def engine_users(client: docker.DockerClient) -> list[str]:
    """What else uses the engine: containers not ours (but those never started, which an
    engine restart leaves as they are), and other runs that drive it: docker-tier or whole
    pytest runs, benchmarks, image builds, `make up`."""
    others = [
        name
        for summary in client.api.containers(all=True)  # summaries: no inspect that may race
        for name in [summary["Names"][0].lstrip("/")]
        if not name.startswith(RUN_PREFIX) and summary["State"] != "created"
    ]
    mine = {os.getpid(), os.getppid()}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = [w.decode(errors="replace") for w in cmdline.read_bytes().split(b"\0") if w]
        except OSError:
            continue
        if int(cmdline.parent.name) in mine or not words:
            continue
        line = " ".join(words)
        if any(w.endswith("pytest") for w in words[:2]):
            paths = [w for w in words if w.startswith("tests") or "/tests/" in w]
            if paths and not any("docker" in p or "browser" in p for p in paths):
                continue  # unit, hub, oidc tiers: no engine
        elif not any(mark in line for mark in DRIVERS):
            continue
        others.append(f"pid {cmdline.parent.name}: {line[:120]}")
    return others


def wait_until_the_engine_is_ours(client: docker.DockerClient) -> None:
    """Until nothing else uses the engine, twice 10 s apart (a run between two containers)."""
    deadline = time.monotonic() + WAIT
    while True:
        users = engine_users(client)
        if not users:
            time.sleep(10)
            if not (users := engine_users(client)):
                break
        if time.monotonic() > deadline:
            pytest.fail(
                f"the engine stayed in use for {WAIT:.0f} s, so it was not restarted: {users}. "
                "Run this test again when it is free (HDS_ENGINE_WAIT sets the wait).",
                pytrace=False,
            )
        time.sleep(30)
    if STAMP.exists():
        time.sleep(max(0.0, 60 - (time.time() - STAMP.stat().st_mtime)))


def restart_engine() -> tuple[float, float]:
    """Stop dockerd and start it again with scripts/ensure-docker.sh; (stopped, answering) in
    seconds from the stop signal."""
    pid = int(Path("/var/run/docker.pid").read_text())
    began = time.monotonic()
    STAMP.touch()
    os.kill(pid, 15)
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    stopped = time.monotonic() - began
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
    subprocess.run(
        [ROOT / "scripts" / "ensure-docker.sh"], check=True, env=env, start_new_session=True,
        capture_output=True,
    )  # fmt: skip
    return stopped, time.monotonic() - began


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client) -> Iterator[RealHub]:
    hub = RealHub(tmp_path_factory.mktemp("engine-restart")).start()
    for project, member in (("east", "ann"), ("west", "bob")):
        make_dataset(hub, f"{project}-data", project=project)
        make_project(hub, project, [member], dataset=f"{project}-data")
    yield hub
    hub.stop()


def start_servers(hub: RealHub) -> None:
    for member, project in (("ann", "east"), ("bob", "west")):
        assert hub.api("POST", f"/users/{member}/servers/{project}").status_code in (201, 202)
    for member, project in (("ann", "east"), ("bob", "west")):
        hub.wait_for_server(member, project, timeout=180)


class Probes:
    """Probe containers that run again as soon as the engine does (restart policy: always)."""

    def __init__(self, client: docker.DockerClient, folder: Path, host_port: int):
        self.client, self.folder, self.host_port = client, folder, host_port
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o777)

    def run(self, name: str, network: str, script: str, *args: str) -> None:
        self.client.containers.run(
            IMAGE, ["python3", "-c", script, *args], name=f"{RUN_PREFIX}-probe-{name}",
            network=network, user="1000:1000", cap_drop=["ALL"], read_only=True, detach=True,
            restart_policy={"Name": "always"},
            volumes={str(self.folder): {"bind": "/probe", "mode": "rw"}},
        )  # fmt: skip

    def start(self, east: dict, west: dict) -> None:
        self.run("listener", west["Name"], LISTENER)
        gateway = gateway_address(east)
        self.run("east", east["Name"], PROBE, "east", "@/probe/listener-ip",
                 f"{gateway}:{self.host_port}")  # fmt: skip
        self.run("west", west["Name"], PROBE, "west", "@/probe/listener-ip")

    def log(self, name: str) -> list[dict]:
        path = self.folder / f"{name}.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]

    def remove(self) -> None:
        for container in self.client.containers.list(all=True, filters={"name": "probe"}):
            if container.name.startswith(f"{RUN_PREFIX}-probe-"):
                container.remove(force=True)


def network_of(client: docker.DockerClient, project: str) -> dict:
    return client.api.inspect_network(f"{RUN_PREFIX}-project-{project}")


def rules_in_place(hub: RealHub, bridges: list[str]) -> list[list[str]]:
    """The HDS-INPUT rules these bridges and the hub's guard need that are missing."""
    wanted = [rule for bridge in bridges for rule in firewall.rules_for(bridge, hub.hub_port)]
    wanted += firewall.hub_port_rules(hub.hub_port, hub.process.pid)
    check = ["iptables", "-w", "-C", firewall.CHAIN]
    missing = [r for r in wanted if subprocess.run([*check, *r], capture_output=True).returncode]
    jump = ["iptables", "-w", "-C", "INPUT", "-j", firewall.CHAIN]
    return missing + ([["INPUT", "-j", firewall.CHAIN]] if subprocess.run(jump).returncode else [])


def test_isolation_holds_and_servers_come_back_cleanly_across_an_engine_restart(
    hub, docker_client, tmp_path
):
    start_servers(hub)
    client = docker_client
    before = {name: client.containers.get(name).id for name in SERVERS}
    east, west = network_of(client, "east"), network_of(client, "west")
    bridges = [bridge_of(east), bridge_of(west)]
    with HostListener() as host_port:
        probes = Probes(client, Path(f"/var/tmp/{RUN_PREFIX}-probes"), host_port)
        try:
            probes.start(east, west)
            time.sleep(5)
            wait_until_the_engine_is_ours(client)
            restarted_at = time.time()
            stopped, answering = restart_engine()
            client = connect()
            time.sleep(10)  # the probes run again
            back = restarted_at + stopped  # the old engine gone, the new one starting
            first = {n: min(e["t"] for e in probes.log(n) if e["t"] > back) - back
                     for n in ("east", "west")}  # fmt: skip
            print(f"engine stopped in {stopped:.1f} s, answering {answering - stopped:.1f} s "
                  f"after its new start; the probes ran again {first['east']:.1f} s (A) and "
                  f"{first['west']:.1f} s (B) after it")  # fmt: skip
            assert rules_in_place(hub, bridges) == [], "firewall rules lost in the restart"
            after = [e for e in probes.log("east") if e["t"] > restarted_at]
            control = [e for e in probes.log("west") if e["t"] > restarted_at]
            assert after and control, "the probes did not run again after the restart"
            listener = "@/probe/listener-ip"
            # Network unreachable (OSError) or dropped (TimeoutError): never an answer from B's
            # address, not even a refusal.
            assert {e[listener] for e in after} <= {"OSError", "TimeoutError", "unknown"}, after
            assert "open" in {e[listener] for e in control}, "the control never reached B"
            first_open = min(e["t"] for e in control if e[listener] == "open")
            assert any(e["t"] <= first_open + 1 for e in after), "A did not try while B was up"
            host = f"{gateway_address(east)}:{host_port}"
            assert "open" not in {e[host] for e in after}, "a host port was reachable from A"
        finally:
            probes.remove()
            shutil.rmtree(probes.folder, ignore_errors=True)

    # The servers did not survive the engine (no live-restore): the hub records how they ended
    # and closes their ledger sessions and volumes; they start again in new containers, on the
    # networks and rules they had.
    for member, project in (("ann", "east"), ("bob", "west")):
        hub.wait_for_server(member, project, ready=False, timeout=180)
        audit_record.wait_for(hub, action="server.exited", project=project)
        assert not mounted(hub.state_dir / "projects" / project)
    assert ledger_stops(hub) == {"east": ["exited"], "west": ["exited"]}
    start_servers(hub)
    assert not {name: client.containers.get(name).id for name in SERVERS}.items() & before.items()
    assert rules_in_place(hub, bridges) == []
    ann = client.containers.get(f"{RUN_PREFIX}-ann--east")
    bob = client.containers.get(f"{RUN_PREFIX}-bob--west")
    bob_ip = next(iter(bob.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    code, output = ann.exec_run(
        ["python3", "-c", REACH, f"{bob_ip}:8888", f"{gateway_address(east)}:{hub.hub_port}"],
        user="1000:1000",
    )
    assert code == 0, output
    assert json.loads(output) == {f"{bob_ip}:8888": "TimeoutError",
                                  f"{gateway_address(east)}:{hub.hub_port}": "open"}  # fmt: skip


def ledger_stops(hub: RealHub) -> dict[str, list[str]]:
    """Each project's stop records in the usage ledger: their reasons."""
    stops: dict[str, list[str]] = {}
    for path in sorted((hub.state_dir / "usage").glob("ledger-*.jsonl")):
        for record in map(json.loads, path.read_text().splitlines()):
            if record["kind"] == "stop":
                stops.setdefault(record["project"], []).append(record.get("reason"))
    return stops


def mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[4] == str(path) for line in table)


class HostListener:
    """A TCP server on every host address: a host service project containers must not reach."""

    def __enter__(self) -> int:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen()
        threading.Thread(target=self._accept, daemon=True).start()
        return self.sock.getsockname()[1]

    def _accept(self) -> None:
        while True:
            try:
                self.sock.accept()[0].close()
            except OSError:
                return

    def __exit__(self, *_) -> None:
        self.sock.close()
