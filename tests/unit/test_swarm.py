"""Swarm services' hardening, forced over whatever the configuration asked; placement by volume."""

from __future__ import annotations

import pytest

from jupyter_hds.projects.swarm import NO_NEW_PRIVILEGES, ServiceHardening, project_node

DATASET, SHARED = "/srv/hds/datasets/cohort", "/srv/hds/projects/p/shared"
HARDENING = ServiceHardening(
    user="1000:1000", pids_limit=512, scratch_size=2**30, network="hds-project-p",
    mount_sources=frozenset({DATASET, SHARED}),
)  # fmt: skip


def service(**container) -> dict:
    """create_service arguments as SwarmSpawner builds them, with operator extras in them."""
    spec = {"Image": "img", "Args": ["jupyterhub-singleuser"],
            "Mounts": [{"Type": "bind", "Source": DATASET, "Target": "/d", "ReadOnly": True}],
            **container}  # fmt: skip
    return {
        "name": "hds-ann--p",
        "task_template": {
            "ContainerSpec": spec,
            "Resources": {"Limits": {"MemoryBytes": 4 * 2**30, "NanoCPUs": 2 * 10**9}},
            "Networks": [{"Target": "hds-project-p"}, {"Target": "ingress"}],
            "RestartPolicy": {"Condition": "any"},
        },
        "endpoint_spec": {"Ports": [{"TargetPort": 8888, "PublishedPort": 8888}]},
    }


def test_operator_settings_cannot_loosen_the_container():
    hostile = service(
        User="0:0", CapabilityAdd=["SYS_ADMIN"], Privileges={"SELinuxContext": None},
        ReadOnly=False, Sysctls={"net.ipv4.ip_forward": "1"}, Command=["bash"],
    )  # fmt: skip
    spec = HARDENING.apply(hostile)["task_template"]["ContainerSpec"]
    assert spec["User"] == "1000:1000" and spec["CapabilityDrop"] == ["ALL"]
    assert "CapabilityAdd" not in spec and "Privileges" not in spec and "Sysctls" not in spec
    assert spec["ReadOnly"] is True and spec["Init"] is True
    assert spec["Command"] == [*NO_NEW_PRIVILEGES, "bash"]


def test_limits_network_logs_restart_and_endpoint_are_forced():
    applied = HARDENING.apply(service())
    task = applied["task_template"]
    assert task["Resources"]["Limits"] == {
        "MemoryBytes": 4 * 2**30, "NanoCPUs": 2 * 10**9, "Pids": 512,
    }  # fmt: skip
    assert task["Networks"] == [{"Target": "hds-project-p"}]
    assert task["LogDriver"] == {"Name": "json-file",
                                 "Options": {"max-size": "10m", "max-file": "3"}}  # fmt: skip
    assert task["RestartPolicy"] == {"Condition": "none"}
    assert applied["endpoint_spec"] == {"Mode": "dnsrr"}


def test_applying_twice_changes_nothing():
    once = HARDENING.apply(service())
    assert HARDENING.apply(once) == once


@pytest.mark.parametrize(
    "case_id, mount",
    [
        ("host-root", {"Type": "bind", "Source": "/", "Target": "/host"}),
        ("docker-socket", {"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/s"}),
        ("named-volume", {"Type": "volume", "Source": DATASET, "Target": "/v"}),
        ("other-project", {"Type": "bind", "Source": "/srv/hds/projects/q/shared", "Target": "/q"}),
    ],
)
def test_mounts_other_than_the_projects_are_refused(case_id, mount):
    hostile = service()
    hostile["task_template"]["ContainerSpec"]["Mounts"].append(mount)
    with pytest.raises(PermissionError, match="only the project's dataset"):
        HARDENING.apply(hostile)


def test_scratch_folders_are_in_memory_and_sized():
    mounts = HARDENING.apply(service())["task_template"]["ContainerSpec"]["Mounts"]
    tmpfs = {m["Target"]: m["TmpfsOptions"]["SizeBytes"] for m in mounts if m["Type"] == "tmpfs"}
    assert tmpfs == {"/tmp": 2**30, "/home/jovyan/.local": 64 * 2**20}


class FakeNodes:
    """The two calls project_node makes on a swarm manager's API."""

    def __init__(self, nodes):
        self._nodes, self.updates = nodes, []

    def nodes(self):
        return self._nodes

    def update_node(self, node_id, version, spec):
        self.updates.append((node_id, spec["Labels"]))


def node(node_id, labels=None, memory=8 * 2**30, state="ready", availability="active"):
    return {
        "ID": node_id, "Version": {"Index": 1},
        "Spec": {"Labels": labels or {}, "Availability": availability, "Role": "worker"},
        "Status": {"State": state}, "Description": {"Resources": {"MemoryBytes": memory}},
    }  # fmt: skip


@pytest.mark.parametrize(
    "case_id, nodes, expected, labelled",
    [
        ("labelled-stays", [node("a"), node("b", {"org.jupyter-hds.volume.p": "true"})], "b", False),
        ("fewest-volumes", [node("a", {"org.jupyter-hds.volume.q": "true"}), node("b")], "b", True),
        ("then-most-memory", [node("a"), node("b", memory=32 * 2**30)], "b", True),
        ("only-ready-active", [node("a", state="down"), node("b", availability="drain"),
                               node("c", {"org.jupyter-hds.volume.q": "true"})], "c", True),
    ],
)  # fmt: skip
def test_a_projects_node_is_the_one_with_its_volume(case_id, nodes, expected, labelled):
    api = FakeNodes(nodes)
    assert project_node(api, "p") == expected
    assert bool(api.updates) == labelled
    if labelled:
        assert api.updates[0][1]["org.jupyter-hds.volume.p"] == "true"
