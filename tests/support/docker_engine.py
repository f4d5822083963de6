"""The real Docker engine for tests: connect or fail loudly, name everything per run, clean up."""

from __future__ import annotations

import os
import re

import docker
import pytest

# Every container, network and volume a test run creates starts with this prefix;
# the pid tells a later run whether its owner is still alive.
RUN_PREFIX = f"hdst{os.getpid()}"
_OWNED = re.compile(r"^/?hdst(\d+)-")


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except Exception as error:
        pytest.fail(
            f"these tests need a running Docker engine and none answers ({error}); "
            "`make test` starts one with scripts/ensure-docker.sh",
            pytrace=False,
        )
    return client


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_ours(name: str, only_dead: bool) -> bool:
    match = _OWNED.match(name)
    if not match:
        return False
    if only_dead:
        return not _pid_alive(int(match.group(1)))
    return match.group(1) == RUN_PREFIX[len("hdst") :]


def remove_objects(client: docker.DockerClient, only_dead: bool) -> list[str]:
    """Remove this run's objects (or, with `only_dead`, those of runs that have ended)."""
    removed = []
    for container in client.containers.list(all=True):
        if _is_ours(container.name, only_dead):
            container.remove(force=True)
            removed.append(container.name)
    for network in client.networks.list():
        if _is_ours(network.name, only_dead):
            network.remove()
            removed.append(network.name)
    for volume in client.volumes.list():
        if _is_ours(volume.name, only_dead):
            volume.remove(force=True)
            removed.append(volume.name)
    return removed


def leftovers(client: docker.DockerClient) -> list[str]:
    """Names of this run's containers, networks and volumes that still exist."""
    names = [c.name for c in client.containers.list(all=True)]
    names += [n.name for n in client.networks.list()] + [v.name for v in client.volumes.list()]
    return [n for n in names if n.startswith(RUN_PREFIX + "-")]


def container_logs(client: docker.DockerClient, tail: int = 80) -> str:
    """Logs of this run's containers, for a failed test's report."""
    parts = []
    for container in client.containers.list(all=True):
        if container.name.startswith(RUN_PREFIX + "-"):
            logs = container.logs(tail=tail).decode(errors="replace")
            parts.append(f"--- {container.name} ({container.status}) ---\n{logs}")
    return "\n".join(parts)
