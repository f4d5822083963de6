"""The real hub starts a user server in a container through the REST API, then leaves nothing."""

from __future__ import annotations

import pytest
import requests

from support import docker_engine
from support.hub import make_dataset, make_project

pytestmark = pytest.mark.docker


def test_server_starts_answers_through_the_proxy_and_leaves_nothing(real_hub, docker_client):
    make_dataset(real_hub, "demo")
    make_project(real_hub, "demo", ["alice"])
    started = real_hub.api("POST", "/users/alice/servers/demo")
    assert started.status_code in (201, 202), started.text
    server = real_hub.wait_for_server("alice", "demo")
    assert server["url"] == "/user/alice/demo/"

    status = requests.get(
        f"{real_hub.url}/user/alice/demo/api/status",
        headers={"Authorization": f"token {real_hub.token}"},
        timeout=30,
    )
    assert status.status_code == 200, status.text
    assert "started" in status.json()

    stopped = real_hub.api("DELETE", "/users/alice/servers/demo")
    assert stopped.status_code in (202, 204), stopped.text
    real_hub.wait_for_server("alice", "demo", ready=False)
    assert docker_engine.leftovers(docker_client) == []
