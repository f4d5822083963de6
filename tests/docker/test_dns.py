"""No DNS out of a project network (issue 19, item 6; CVE-2024-29018).

Docker 20.10's embedded DNS forwards names it does not know to the host's resolvers, from the
host's own namespace when they are on loopback. This host's resolver is not on loopback, and
neither the shared engine nor the host's network may change, so the attack runs on a private
engine with a host of its own: a second dockerd in its own network namespace, where a resolver
this test runs listens on loopback and logs every query, and its own mount namespace, whose
/etc/resolv.conf names that resolver. Without the spawner's DNS settings a container on an
internal network resolves through it (the attack works); with them (`projects.docker.DNS`,
`RESOLV_CONF`) no query reaches it, the embedded DNS asked directly included, and lookups fail
at once. The spawner's real containers on the shared engine carry those settings and fail
lookups fast too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from jupyter_hds.projects.docker import DNS, write_resolv_conf
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project

pytestmark = pytest.mark.docker

BASE_IMAGE = "jupyter-hds/base:bookworm"  # small, with Python: loaded into the private engine
# In the container: the time a lookup takes and what it gave, and what the embedded DNS
# (127.0.0.11) answers when asked directly, as code that ignores resolv.conf would ask it.
LOOKUP = r"""
import json, socket, struct, sys, time
name = sys.argv[1]
began = time.monotonic()
try:
    found = socket.gethostbyname(name + ".lookup.example")
except OSError as error:
    found = type(error).__name__
seconds = time.monotonic() - began
query = struct.pack(">6H", 0x4844, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(p)]) + p.encode() for p in (name + ".direct.example").split(".")
) + b"\0" + struct.pack(">HH", 1, 1)
direct = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
direct.settimeout(6)
direct.sendto(query, ("127.0.0.11", 53))
try:
    answer = direct.recv(512)
    asked = f"rcode {answer[3] & 15}, {struct.unpack('>H', answer[6:8])[0]} answer(s)"
except OSError as error:
    asked = type(error).__name__
print(json.dumps({"lookup": found, "seconds": seconds, "direct": asked}))
"""


# A DNS server on the engine host's loopback: logs each query's name, answers 203.0.113.7.
RESOLVER = r"""
import socket, struct, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((sys.argv[1], 53))
log = open(sys.argv[2], "a", buffering=1)
while True:
    data, peer = server.recvfrom(4096)
    labels, i = [], 12
    while data[i]:
        labels.append(data[i + 1 : i + 1 + data[i]].decode(errors="replace"))
        i += 1 + data[i]
    log.write(".".join(labels) + "\n")
    record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 7])
    reply = data[:2] + b"\x81\x80" + struct.pack(">4H", 1, 1, 0, 0) + data[12 : i + 5] + record
    server.sendto(reply, peer)
"""


class PrivateEngine:
    """A second dockerd, private to this test, on a host of its own: its own network namespace
    (with a resolver on its loopback) and mount namespace (an /etc/resolv.conf naming that
    resolver), its own sockets, folders and cgroup. The shared engine, the host's network and
    its resolver stay untouched."""

    RESOLVER_ADDRESS = "127.0.0.77"

    def __init__(self, folder: Path):
        self.folder = folder
        self.run = Path(f"/run/{RUN_PREFIX}-dns")  # short: Unix socket paths are limited
        self.socket = f"unix://{self.run}/docker.sock"
        self.log = folder / "queries.log"

    @property
    def queries(self) -> list[str]:
        """The names the resolver on the engine host's loopback was asked for."""
        return self.log.read_text().splitlines() if self.log.exists() else []

    def __enter__(self) -> PrivateEngine:
        resolv = self.folder / "host-resolv.conf"
        resolv.write_text(f"nameserver {self.RESOLVER_ADDRESS}\n")
        (self.folder / "resolver.py").write_text(RESOLVER)
        self.run.mkdir(exist_ok=True)
        daemon = [
            "dockerd", "--data-root", str(self.folder / "data"), "--exec-root", str(self.run),
            "--pidfile", str(self.run / "docker.pid"), "--host", self.socket,
            "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
            "--userland-proxy=false", f"--cgroup-parent=/{RUN_PREFIX}-dns", "--log-level=warn",
        ]  # fmt: skip
        script = (
            "ip link set lo up"
            f' && {{ "{sys.executable}" "{self.folder}/resolver.py" {self.RESOLVER_ADDRESS}'
            f' "{self.log}" & }}'
            f' && mount --bind "{resolv}" /etc/resolv.conf && exec "$@"'
        )
        self.process = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private",
             "sh", "-c", script, "sh", *daemon],
            stdout=(self.folder / "dockerd.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client = docker.DockerClient(base_url=self.socket, version="auto", timeout=120)
                break
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError((self.folder / "dockerd.log").read_text()) from None
                time.sleep(0.5)
        saved = subprocess.Popen(["docker", "save", BASE_IMAGE], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", self.socket, "load"], stdin=saved.stdout, check=True,
                       capture_output=True)  # fmt: skip
        saved.wait()
        return self

    def __exit__(self, *_) -> None:
        try:
            for container in self.client.containers.list(all=True):
                container.remove(force=True)
            for network in self.client.networks.list():
                if network.name not in ("none", "host", "bridge"):
                    network.remove()
        except Exception:  # noqa: S110 (the daemon may be gone already)
            pass
        self.process.terminate()  # dockerd (the shell exec'd it)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # The resolver is the last process of the namespace's session: end it by its group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        shutil.rmtree(self.folder / "data", ignore_errors=True)
        shutil.rmtree(self.run, ignore_errors=True)


@pytest.fixture(scope="module")
def private_engine() -> Iterator[PrivateEngine]:
    # Not under pytest's temporary folders, which other runs on this host may prune.
    folder = Path(f"/var/tmp/{RUN_PREFIX}-dns")
    folder.mkdir(exist_ok=True)
    try:
        with PrivateEngine(folder) as engine:
            yield engine
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def internal_network(private_engine):
    network = private_engine.client.networks.create(
        f"{RUN_PREFIX}-dns-project", driver="bridge", internal=True,
        ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet="10.254.77.0/24")]
        ),
    )  # fmt: skip
    yield network
    network.remove()


def lookup(engine: PrivateEngine, network, name: str, **create) -> dict:
    """Run LOOKUP for `name` in a container on `network`, as a user server's uid."""
    output = engine.client.containers.run(
        BASE_IMAGE, ["python3", "-c", LOOKUP, name], network=network.name, user="1000:1000",
        cap_drop=["ALL"], read_only=True, remove=True, **create,
    )  # fmt: skip
    return json.loads(output)


def test_without_the_settings_an_internal_network_resolves_through_the_hosts_loopback(
    private_engine, internal_network
):
    """The attack, on a container with Docker's defaults: names leave, answers come back."""
    seen = lookup(private_engine, internal_network, "defaults")
    assert seen["lookup"] == "203.0.113.7", seen
    assert seen["direct"] == "rcode 0, 1 answer(s)"
    assert {"defaults.lookup.example", "defaults.direct.example"} <= set(private_engine.queries)


def test_with_the_spawners_settings_no_query_leaves_and_lookups_fail_at_once(
    private_engine, internal_network
):
    conf = private_engine.folder / "container-resolv.conf"
    write_resolv_conf(conf)
    mount = docker.types.Mount("/etc/resolv.conf", str(conf), type="bind", read_only=True)
    seen = lookup(private_engine, internal_network, "hds", dns=DNS, mounts=[mount])
    assert seen["lookup"] == "gaierror", seen
    assert seen["seconds"] < 3, seen  # at once: Docker's resolver retries for 10 s
    assert seen["direct"] == "TimeoutError", seen  # the embedded DNS asked nobody outside
    assert not [q for q in private_engine.queries if q.startswith("hds.")], private_engine.queries


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client) -> Iterator[RealHub]:
    hub = RealHub(tmp_path_factory.mktemp("dns")).start()
    make_dataset(hub, "dns-data", project="dns")
    make_project(hub, "dns", ["ann"], dataset="dns-data")
    yield hub
    hub.stop()


def test_a_user_server_carries_the_settings_and_fails_lookups_at_once(hub, docker_client):
    """On the shared engine: what the spawner really creates."""
    assert hub.api("POST", "/users/ann/servers/dns").status_code in (201, 202)
    hub.wait_for_server("ann", "dns")
    box = docker_client.containers.get(f"{RUN_PREFIX}-ann--dns")
    code, output = box.exec_run(["python3", "-c", LOOKUP, "server"], user="1000:1000")
    assert code == 0, output
    seen = json.loads(output)
    assert seen["lookup"] == "gaierror" and seen["seconds"] < 3, seen
    assert seen["direct"] == "TimeoutError", seen
    assert box.attrs["HostConfig"]["Dns"] == DNS
    code, output = box.exec_run(["cat", "/etc/resolv.conf"], user="1000:1000")
    assert output.decode().splitlines()[1:] == [
        "nameserver 127.0.0.1",
        "options timeout:1 attempts:1",
    ]
