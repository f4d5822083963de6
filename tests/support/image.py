"""Run a small script inside the built single-user image, locked down like a user server."""

from __future__ import annotations

import itertools
import json
import os
from textwrap import dedent
from typing import Any

import docker

from .docker_engine import RUN_PREFIX

IMAGE = os.environ.get("HDS_SINGLEUSER_IMAGE", "jupyter-hds/singleuser:latest")
_serial = itertools.count()


class ScriptFailed(AssertionError):
    """The script exited non-zero; the message carries its output."""


def run_in_image(
    client: docker.DockerClient,
    script: str,
    *,
    environment: dict[str, str] | None = None,
    volumes: dict[str, dict[str, str]] | None = None,
    timeout: float = 120,
) -> Any:
    """Run `script` with the image's Python as uid 1000 on a read-only root; return its JSON.

    The script prints one JSON document on its last line of stdout.
    """
    container = client.containers.run(
        IMAGE,
        ["python", "-c", dedent(script)],
        name=f"{RUN_PREFIX}-image-{next(_serial)}",
        user="1000:1000",
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},  # noqa: S108 (the container's own /tmp)
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        network_disabled=True,
        environment=environment or {},
        volumes=volumes or {},
        detach=True,
    )
    try:
        status = container.wait(timeout=timeout)["StatusCode"]
        stdout = container.logs(stdout=True, stderr=False).decode()
        stderr = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    if status != 0:
        raise ScriptFailed(f"script exited with {status}:\n{stdout}\n{stderr[-4000:]}")
    return json.loads(stdout.strip().splitlines()[-1])
