"""The hub's API port (issue 19, item 3): loopback and project containers reach it; another host
on the LAN, played by a network namespace wired to this host, and other Docker networks do not.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests

from jupyter_hds.projects.networks import gateway_address
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project
from support.image import IMAGE
from support.reach import reach_script

pytestmark = pytest.mark.docker

TAG = f"h{os.getpid() % 100000}"  # interface names: 15 characters at most
KNOCK = reach_script(timeout=5)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class LanHost:
    """A network namespace wired to this host by a veth pair: a machine on the host's LAN."""

    def __init__(self):
        self.name = f"{RUN_PREFIX}-lan"
        self.host_side, self.far_side = f"{TAG}h", f"{TAG}n"
        third = os.getpid() % 250
        self.host_address, self.address = f"10.252.{third}.1", f"10.252.{third}.2"

    def __enter__(self) -> LanHost:
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.host_side, "type", "veth", "peer", "name", self.far_side)
            ip("link", "set", self.far_side, "netns", self.name)
            ip("addr", "add", f"{self.host_address}/30", "dev", self.host_side)
            ip("link", "set", self.host_side, "up")
            inside = ("netns", "exec", self.name, "ip")
            ip(*inside, "addr", "add", f"{self.address}/30", "dev", self.far_side)
            ip(*inside, "link", "set", self.far_side, "up")
            ip(*inside, "link", "set", "lo", "up")
            ip(*inside, "route", "add", "default", "via", self.host_address)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_side], capture_output=True)

    def knock(self, *targets: str) -> dict[str, str]:
        result = subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", KNOCK, *targets],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def host_address() -> str:
    """This host's address on its LAN (the interface of its default route)."""
    route = subprocess.run(
        ["ip", "-4", "-json", "route", "get", "1.1.1.1"], capture_output=True, text=True
    )
    return json.loads(route.stdout)[0]["prefsrc"]


class Listener:
    """A TCP server on every host address: a service this host offers its LAN."""

    def __enter__(self) -> int:
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


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client) -> Iterator[RealHub]:
    hub = RealHub(tmp_path_factory.mktemp("hub-port")).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def lan() -> Iterator[LanHost]:
    with LanHost() as lan:
        yield lan


def test_another_host_on_the_lan_is_refused_the_hub_port(hub, lan):
    """Attack: from the LAN, the hub's API port at the host's addresses. No server runs yet:
    the guard is there from the hub's start."""
    with Listener() as other_port:
        seen = lan.knock(
            f"{lan.host_address}:{hub.hub_port}",
            f"{host_address()}:{hub.hub_port}",
            f"{lan.host_address}:{other_port}",  # control: the LAN does reach this host
        )
    assert seen == {
        f"{lan.host_address}:{hub.hub_port}": "ConnectionRefusedError",
        f"{host_address()}:{hub.hub_port}": "ConnectionRefusedError",
        f"{lan.host_address}:{other_port}": "open",
    }


def test_loopback_reaches_the_hub_api(hub):
    assert requests.get(f"http://127.0.0.1:{hub.hub_port}/hub/api/", timeout=10).ok
    assert requests.get(f"http://{host_address()}:{hub.hub_port}/hub/api/", timeout=10).ok


def test_a_project_container_reaches_the_hub_api_at_its_gateway(hub, docker_client):
    make_dataset(hub, "port-data", project="port")
    make_project(hub, "port", ["ann"], dataset="port-data")
    assert hub.api("POST", "/users/ann/servers/port").status_code in (201, 202)
    hub.wait_for_server("ann", "port")
    box = docker_client.containers.get(f"{RUN_PREFIX}-ann--port")
    [network] = box.attrs["NetworkSettings"]["Networks"].values()
    code, output = box.exec_run(
        ["python3", "-c", KNOCK, f"{network['Gateway']}:{hub.hub_port}"], user="1000:1000"
    )
    assert code == 0 and json.loads(output) == {f"{network['Gateway']}:{hub.hub_port}": "open"}


def test_a_container_on_another_docker_network_is_refused(hub, docker_client):
    gateway = gateway_address(docker_client.networks.get("bridge").attrs)  # docker0
    output = docker_client.containers.run(
        IMAGE,
        ["python3", "-c", KNOCK, f"{gateway}:{hub.hub_port}"],
        name=f"{RUN_PREFIX}-other-network",
        network="bridge",
        user="1000:1000",
        remove=True,
    )
    assert json.loads(output) == {f"{gateway}:{hub.hub_port}": "ConnectionRefusedError"}
