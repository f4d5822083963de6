"""Project servers as swarm services on a single-node swarm: the same guarantees, proved for real.

The engine becomes a swarm manager for this module only if it was not one (support.swarm);
a node agent runs for the hub's state folder as the node's systemd unit would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project
from support.reach import REACH
from support.swarm import NodeAgent, SwarmMode, ensure_node_image, task_container

pytestmark = pytest.mark.docker

SERVER_NNP = r"""
from pathlib import Path
for proc in Path("/proc").glob("[0-9]*"):
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
        # The server's own process (docker-init, pid 1, is the parent that starts setpriv).
        if b"jupyterhub-singleuser" in b" ".join(argv) and b"docker-init" not in argv[0]:
            status = (proc / "status").read_text()
            print(next(l.split()[1] for l in status.splitlines() if l.startswith("NoNewPrivs")))
            break
    except OSError:
        pass
"""


@pytest.fixture(scope="module")
def swarm(docker_client):
    ensure_node_image(docker_client)
    with SwarmMode(docker_client) as mode:
        yield mode


@pytest.fixture(scope="module")
def hub(tmp_path_factory, swarm):
    state = tmp_path_factory.mktemp("swarm")
    agent = NodeAgent(state, tmp_path_factory.mktemp("agent")).start()
    hub = RealHub(
        state,
        extra_config=f"""
        c.JupyterHub.spawner_class = "jupyter_hds.projects.swarm.HDSSwarmSpawner"
        c.HDSSwarmSpawner.prefix = "{RUN_PREFIX}"
        c.HDSSwarmSpawner.agent_socket_dir = "{agent.socket_dir}"
        """,
    )
    try:
        hub.start()
        make_dataset(hub, "alpha-data", {"cohort.csv": b"id,age\n1,40\n"}, project="alpha")
        make_dataset(hub, "beta-data", {"secret-beta.csv": b"id,age\n9,90\n"}, project="beta")
        make_project(hub, "alpha", ["alice"], dataset="alpha-data")
        make_project(hub, "beta", ["bob"], dataset="beta-data")
        yield hub
    finally:
        hub.stop()
        swarm.remove_services()
        agent.stop()
        print(agent.log()[-3000:])


@pytest.fixture(scope="module")
def running(hub):
    for user, project in (("alice", "alpha"), ("bob", "beta")):
        response = hub.api("POST", f"/users/{user}/servers/{project}")
        assert response.status_code in (201, 202), response.text
    for user, project in (("alice", "alpha"), ("bob", "beta")):
        hub.wait_for_server(user, project, timeout=180)
    return hub


def service(user, project):
    return f"{RUN_PREFIX}-{user}--{project}"


def run_in(box, *command: str) -> tuple[int, str]:
    code, output = box.exec_run(list(command), user="1000:1000")
    return code, output.decode(errors="replace")


def test_a_server_is_a_service_reached_through_the_proxy(running, docker_client):
    spec = docker_client.services.get(service("alice", "alpha")).attrs["Spec"]
    assert spec["Labels"]["org.jupyter-hds.project"] == "alpha"
    token = running.api("POST", "/users/alice/tokens", json={"note": "t"}).json()["token"]
    listing = requests.get(
        f"{running.url}/user/alice/alpha/api/contents/dataset",
        headers={"Authorization": f"token {token}"}, timeout=30,
    )  # fmt: skip
    assert listing.status_code == 200, listing.text
    assert sorted(f["name"] for f in listing.json()["content"]) == ["cohort.csv", "manifest.json"]


def test_the_service_is_placed_on_its_projects_node(running, docker_client):
    node = docker_client.nodes.list()[0]
    assert node.attrs["Spec"]["Labels"].get("org.jupyter-hds.volume.alpha") == "true"
    spec = docker_client.services.get(service("alice", "alpha")).attrs["Spec"]
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == [f"node.id=={node.id}"]


def test_the_task_container_is_hardened(running, docker_client):
    box = task_container(docker_client, service("alice", "alpha"))
    host = box.attrs["HostConfig"]
    assert box.attrs["Config"]["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert host["ReadonlyRootfs"] is True and host["Init"] is True
    assert host["PidsLimit"] == 512
    assert host["Memory"] == 4 * 1024**3 and host["NanoCpus"] == 2 * 10**9  # public plan
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }
    assert not host.get("Privileged") and not host.get("Binds")
    code, status = run_in(box, "cat", "/proc/self/status")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == "0000000000000000"
    # The server and everything it starts run without new privileges (setpriv in the service's
    # command). `docker exec` (the host's root only) gets them from the node's daemon default.
    code, found = run_in(box, "python3", "-c", SERVER_NNP)
    assert code == 0 and found.split() == ["1"], found


def test_only_the_projects_mounts_and_the_dataset_read_only(running, docker_client):
    box = task_container(docker_client, service("alice", "alpha"))
    binds = {m["Destination"]: m for m in box.attrs["Mounts"] if m["Type"] == "bind"}
    assert set(binds) == {"/home/jovyan/dataset", "/home/jovyan/shared", "/home/jovyan/work"}
    assert binds["/home/jovyan/dataset"]["RW"] is False
    code, listing = run_in(box, "ls", "/home/jovyan/dataset")
    assert code == 0 and "cohort.csv" in listing
    code, output = run_in(box, "touch", "/home/jovyan/dataset/new")
    assert code != 0 and "Read-only file system" in output
    for writable in ("/home/jovyan/work/x", "/home/jovyan/shared/x", "/tmp/x"):
        assert run_in(box, "touch", writable)[0] == 0, writable
    assert run_in(box, "touch", "/etc/x")[0] != 0
    code, mounts = run_in(box, "cat", "/proc/self/mountinfo")
    assert "beta" not in mounts and "docker.sock" not in mounts and "agent" not in mounts


def test_the_project_network_only_no_egress_no_other_project(running, docker_client):
    alice = task_container(docker_client, service("alice", "alpha"))
    bob = task_container(docker_client, service("bob", "beta"))
    assert set(alice.attrs["NetworkSettings"]["Networks"]) == {f"{RUN_PREFIX}-project-alpha"}
    network = docker_client.networks.get(f"{RUN_PREFIX}-project-alpha").attrs
    assert network["Driver"] == "overlay" and network["Internal"] is True
    assert "encrypted" in network["Options"]
    bob_ip = next(iter(bob.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    hub_url = next(e for e in alice.attrs["Config"]["Env"] if e.startswith("JUPYTERHUB_API_URL="))
    hub_host = hub_url.split("//", 1)[1].split("/", 1)[0]
    gateway_ip = hub_host.split(":")[0]
    code, output = run_in(
        alice, "python3", "-c", REACH,
        hub_host,  # the hub's API, through the project's gateway: open
        f"{gateway_ip}:{running.port}", f"{gateway_ip}:22",  # anything else there
        f"{bob_ip}:8888",  # another project's server
        "1.1.1.1:443", "8.8.8.8:53", f"{running.url.split('//')[1]}",  # outside, the host
    )  # fmt: skip
    seen = json.loads(output)
    assert seen.pop(hub_host) == "open", seen
    assert all(outcome != "open" for outcome in seen.values()), seen


def test_stopping_the_last_server_removes_the_projects_network(running, docker_client):
    assert running.api("DELETE", "/users/bob/servers/beta").status_code in (202, 204)
    running.wait_for_server("bob", "beta", ready=False)
    assert not docker_client.services.list(filters={"name": service("bob", "beta")})
    # The network goes once the service's task has let go of it (after the stop returned).
    doomed = {f"{RUN_PREFIX}-project-beta", f"{RUN_PREFIX}-hubside-beta"}
    deadline = time.monotonic() + 60
    while doomed & {n.name for n in docker_client.networks.list()}:
        assert time.monotonic() < deadline, f"{doomed} still there:\n{running.log()}"
        time.sleep(0.5)
    assert not docker_client.containers.list(
        all=True, filters={"name": f"{RUN_PREFIX}-gateway-beta"}
    )
    volume = running.state_dir / "projects" / "beta"
    table = Path("/proc/self/mountinfo").read_text().splitlines()
    assert not any(line.split()[4] == str(volume) for line in table)
