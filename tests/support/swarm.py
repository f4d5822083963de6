"""A single-node swarm on the test engine, and a node agent: made for the tests, then undone.

The engine is shared: `swarm_mode` only runs `docker swarm init` when the engine is not in
a swarm, and then leaves it (and removes the docker_gwbridge network swarm mode added)
at the end; whatever the tests made (services, networks, node labels) is removed either way.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from jupyter_hds.projects.swarm import VOLUME_LABEL

from .docker_engine import RUN_PREFIX

NODE_IMAGE = "jupyter-hds/node:bookworm"


def host_address() -> str:
    """This host's address on its default route (what a swarm advertises, and workers join)."""
    out = subprocess.run(["ip", "-4", "route", "get", "1.1.1.1"], capture_output=True, text=True)
    words = out.stdout.split()
    return words[words.index("src") + 1]


def ensure_node_image(client: docker.DockerClient) -> None:
    try:
        client.images.get(NODE_IMAGE)
    except docker.errors.ImageNotFound:
        root = Path(__file__).resolve().parents[2]
        client.images.build(path=str(root / "images" / "node"), tag=NODE_IMAGE, rm=True)


class SwarmMode:
    """The engine as a swarm manager for the duration of a `with` block."""

    def __init__(self, client: docker.DockerClient):
        self.client = client
        self.made = False
        self.had_gwbridge = bool(client.networks.list(names=["docker_gwbridge"]))
        self.labels_before: dict[str, dict[str, str]] = {}

    def __enter__(self) -> SwarmMode:
        swarm = self.client.info()["Swarm"]
        if swarm["LocalNodeState"] == "inactive":
            self.client.swarm.init(advertise_addr=host_address(), listen_addr="0.0.0.0:2377")
            self.made = True
        elif swarm["LocalNodeState"] != "active" or not swarm.get("ControlAvailable"):
            pytest.fail(
                f"the engine is in a swarm it does not manage ({swarm['LocalNodeState']}); "
                "the swarm tests need a manager or no swarm at all",
                pytrace=False,
            )
        self.labels_before = {
            n.id: dict(n.attrs["Spec"].get("Labels") or {}) for n in self.client.nodes.list()
        }
        return self

    def __exit__(self, *exc) -> None:
        self.remove_services()
        self.restore_labels()
        if self.made:
            with contextlib.suppress(docker.errors.APIError):
                self.client.swarm.leave(force=True)
            if not self.had_gwbridge:
                for network in self.client.networks.list(names=["docker_gwbridge"]):
                    with contextlib.suppress(docker.errors.APIError):
                        network.remove()

    def remove_services(self) -> None:
        for service in self.client.services.list():
            if service.name.startswith(RUN_PREFIX + "-"):
                service.remove()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [
            c for c in self.client.containers.list(all=True, filters={"label": "com.docker.swarm.task"})
            if c.labels.get("com.docker.swarm.service.name", "").startswith(RUN_PREFIX + "-")
        ]:  # fmt: skip
            time.sleep(0.5)

    def restore_labels(self) -> None:
        """Drop the project volume labels this run added (nodes keep everyone else's)."""
        for node in self.client.nodes.list():
            labels = dict(node.attrs["Spec"].get("Labels") or {})
            before = self.labels_before.get(node.id, {})
            kept = {
                k: v for k, v in labels.items() if not k.startswith(VOLUME_LABEL) or k in before
            }
            if kept != labels:
                node.update({**node.attrs["Spec"], "Labels": kept})


class NodeAgent:
    """`python -m jupyter_hds.node_agent` for a state folder, as the node's systemd unit runs it."""

    def __init__(self, state_dir: Path, socket_dir: Path):
        self.state_dir, self.socket_dir = state_dir, socket_dir
        self.socket = socket_dir / "agent.sock"
        self.log_path = state_dir.parent / f"{state_dir.name}-agent.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> NodeAgent:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hds.node_agent", "--socket", str(self.socket),
             "--state-dir", str(self.state_dir)],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the node agent did not start:\n{self.log()}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def task_container(client: docker.DockerClient, service: str):
    """The running container of a service's task on this engine."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = client.containers.list(
            filters={"label": f"com.docker.swarm.service.name={service}"}
        )
        if found:
            return found[0]
        time.sleep(0.5)
    raise LookupError(f"no running container for service {service}")
