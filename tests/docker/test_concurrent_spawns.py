"""Servers asked to start at the same moment: subnets, firewall rules and volumes still hold.

Eight starts at once on the real engine: four projects of one member each (four networks,
four volumes made side by side) and one project of four members (one network and one volume,
wanted by four starts at once). Every start must succeed; every project network must be
internal, on a subnet of its own, closed by its firewall rules (each once); every volume
mounted once, and shared by the members of its project.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import subprocess
from pathlib import Path

import pytest

from jupyter_hds.projects import firewall
from jupyter_hds.projects.networks import bridge_of
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project
from support.reach import REACH

pytestmark = pytest.mark.docker

MEMBERS = 4
SOLO = [(f"solo{i}", f"lone{i}") for i in range(4)]  # (user, project): one member each
CROWD = [(f"crew{i}", "crowd") for i in range(MEMBERS)]  # one project, four members
PLAN = f"""
from hds_quota.plans import DEFAULT_PLANS
c.Plans.plans.update({{"crowd": {{**DEFAULT_PLANS["public"], "storage": "128M",
    "members": {MEMBERS}, "running_servers": {MEMBERS}}}}})
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 240
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client):
    hub = RealHub(tmp_path_factory.mktemp("crowd"), extra_config=PLAN).start()
    for user, project in SOLO:
        make_project(hub, project, [user], plan="crowd")
    make_dataset(hub, "crowd")
    make_project(hub, "crowd", [user for user, _ in CROWD], plan="crowd")
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def started(hub):
    """All eight asked to start at once; the hub's answers, by (user, project)."""
    pairs = SOLO + CROWD
    with concurrent.futures.ThreadPoolExecutor(len(pairs)) as pool:
        answers = dict(zip(pairs, pool.map(
            lambda pair: hub.api("POST", f"/users/{pair[0]}/servers/{pair[1]}"), pairs),
            strict=True))  # fmt: skip
    for user, project in pairs:
        if answers[(user, project)].status_code in (201, 202):
            hub.wait_for_server(user, project, timeout=300)
    return answers


def box(client, user: str, project: str):
    return client.containers.get(f"{RUN_PREFIX}-{user}--{project}")


def network_of(client, project: str) -> dict:
    return client.api.inspect_network(f"{RUN_PREFIX}-project-{project}")


def test_every_start_succeeds(hub, started, docker_client):
    refused = {pair: (r.status_code, r.text[:200]) for pair, r in started.items()
               if r.status_code not in (201, 202)}  # fmt: skip
    assert not refused, f"{refused}\nhub exit status {hub.process.poll()}\n{hub.log(60)}"
    for user, project in started:
        server = hub.api("GET", f"/users/{user}").json()["servers"][project]
        assert server["ready"], (user, project, server)
        assert box(docker_client, user, project).status == "running"


def test_each_project_has_one_internal_network_on_a_subnet_of_its_own(started, docker_client):
    projects = sorted({project for _, project in started})
    networks = {project: network_of(docker_client, project) for project in projects}
    assert all(n["Internal"] for n in networks.values()), networks
    subnets = {p: ipaddress.ip_network(n["IPAM"]["Config"][0]["Subnet"]) for p, n in
               networks.items()}  # fmt: skip
    for first in projects:
        for second in projects:
            if first < second:
                assert not subnets[first].overlaps(subnets[second]), subnets
    # Each server is on its own project's network, and on nothing else.
    for user, project in started:
        attached = box(docker_client, user, project).attrs["NetworkSettings"]["Networks"]
        assert list(attached) == [f"{RUN_PREFIX}-project-{project}"], (user, attached)
    # One network for the four members, made once: no second network of the same name.
    names = [n["Name"] for n in docker_client.api.networks(names=[f"{RUN_PREFIX}-project-crowd"])]
    assert names == [f"{RUN_PREFIX}-project-crowd"]


def test_each_bridge_is_closed_by_its_rules_each_once(hub, started, docker_client):
    listing = subprocess.run(["iptables", "-w", "-S", firewall.CHAIN], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    for project in sorted({project for _, project in started}):
        bridge = bridge_of(network_of(docker_client, project))
        for rule in firewall.rules_for(bridge, hub.hub_port):
            check = subprocess.run(["iptables", "-w", "-C", firewall.CHAIN, *rule])
            assert check.returncode == 0, f"missing for {project}: {rule}\n{listing}"
        tagged = [line for line in listing.splitlines() if f"{firewall.BRIDGE_TAG}{bridge}" in line]
        assert len(tagged) == len(firewall.rules_for(bridge, hub.hub_port)), listing
    guard = firewall.hub_port_rules(hub.hub_port, hub.process.pid)[0]
    assert subprocess.run(["iptables", "-w", "-C", firewall.CHAIN, *guard]).returncode == 0
    assert listing.count(f"{firewall.HUB_TAG}{hub.hub_port}:{hub.process.pid}") == 1, listing


def test_no_server_has_a_way_out_but_the_hub(hub, started, docker_client):
    for user, project in [*SOLO, CROWD[0]]:
        server = box(docker_client, user, project)
        gateway = next(iter(server.attrs["NetworkSettings"]["Networks"].values()))["Gateway"]
        code, output = server.exec_run(
            ["python3", "-c", REACH, f"{gateway}:{hub.hub_port}", f"{gateway}:{hub.port}",
             "1.1.1.1:443", "8.8.8.8:53"], user="1000:1000")  # fmt: skip
        assert code == 0, output
        seen = json.loads(output)
        assert seen.pop(f"{gateway}:{hub.hub_port}") == "open", (project, seen)
        assert all(outcome != "open" for outcome in seen.values()), (project, seen)


def test_each_volume_is_mounted_once_and_shared_by_its_members(started, docker_client):
    mountpoints = [line.split()[4] for line in
                   Path("/proc/self/mountinfo").read_text().splitlines()]  # fmt: skip
    for project in sorted({project for _, project in started}):
        user = next(u for u, p in started if p == project)
        mounts = box(docker_client, user, project).attrs["Mounts"]
        shared = next(m["Source"] for m in mounts if m["Destination"] == "/home/jovyan/shared")
        root = str(Path(shared).parent)
        assert mountpoints.count(root) == 1, f"{project}: {root} mounted {mountpoints.count(root)}x"
    # The four members wrote to one filesystem, not to four made side by side.
    for user, _ in CROWD:
        code, output = box(docker_client, user, "crowd").exec_run(
            ["sh", "-c", f"echo {user} > /home/jovyan/shared/{user}.txt"], user="1000:1000")  # fmt: skip
        assert code == 0, output
    for user, _ in CROWD:
        code, output = box(docker_client, user, "crowd").exec_run(
            ["sh", "-c", "cat /home/jovyan/shared/crew*.txt"], user="1000:1000")  # fmt: skip
        assert output.decode().split() == [u for u, _ in CROWD], (user, output)
