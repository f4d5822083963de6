"""A swarm node set up as scripts/swarm-node does it: its engine defaults proved on a service's task.

A second Docker engine (images/node: Debian's docker.io) runs in a container with
scripts/swarm-node/daemon.json as its /etc/docker/daemon.json, as a single-node swarm of its
own (the shared test engine's swarm state is not touched). A project server's service,
hardened as HDSSwarmSpawner makes it, runs there; `docker inspect` of its task's container and
/proc show the node's part: no new privileges for every process, `docker exec` included.

The engine runs without --privileged: on this machine the engine's own capability bounding
set lacks CAP_SYS_RESOURCE, so `--privileged` fails ("unable to apply caps"); every other
capability, unconfined seccomp/AppArmor/system paths, all devices and a writable cgroup tree
are enough for dockerd.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker
import pytest
from docker.types import ContainerSpec, Mount, Resources, TaskTemplate

from jupyter_hds.projects.swarm import ServiceHardening
from support.docker_engine import RUN_PREFIX
from support.swarm import NODE_IMAGE, ensure_node_image

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DAEMON_JSON = ROOT / "scripts" / "swarm-node" / "daemon.json"
BASE_IMAGE = "jupyter-hds/base:bookworm"
# Every capability but CAP_SYS_RESOURCE, which this machine's engine cannot hand out.
CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
    "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
]  # fmt: skip
DATASET, WORK = "/srv/hds/datasets/cohort", "/srv/hds/projects/p/users/ann"


@pytest.fixture(scope="module")
def node(docker_client, tmp_path_factory):
    """A second engine set up like a swarm node, and a client of it."""
    ensure_node_image(docker_client)
    folder = tmp_path_factory.mktemp("node")
    (folder / "run").mkdir()
    api = docker_client.api
    host_config = api.create_host_config(
        cap_add=CAPABILITIES, security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        device_cgroup_rules=["a *:* rwm"],
        binds={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            str(folder / "run"): {"bind": "/hds-run", "mode": "rw"},
            str(folder / "docker"): {"bind": "/var/lib/docker", "mode": "rw"},
            str(DAEMON_JSON): {"bind": "/etc/docker/daemon.json", "mode": "ro"},
        },
    )  # fmt: skip
    # `--security-opt systempaths=unconfined`, which docker-py does not spell: dockerd writes
    # under /proc/sys (forwarding, bridges).
    host_config.update({"MaskedPaths": [], "ReadonlyPaths": []})
    created = api.create_container(
        NODE_IMAGE, ["dockerd", "-H", "unix:///hds-run/docker.sock"],
        name=f"{RUN_PREFIX}-node", host_config=host_config,
    )  # fmt: skip
    api.start(created["Id"])
    box = docker_client.containers.get(created["Id"])
    try:
        inner = wait_for_engine(folder / "run" / "docker.sock", box)
        inner.images.load(docker_client.images.get(BASE_IMAGE).save(named=True))
        address = box.exec_run(["hostname", "-i"]).output.decode().split()[0]
        inner.swarm.init(advertise_addr=address)
        for path in (DATASET, WORK):
            box.exec_run(["sh", "-c", f"mkdir -p {path} && chown 1000:1000 {path}"])
        box.exec_run(["sh", "-c", f"echo 'id,age' > {DATASET}/cohort.csv"])
        yield box, inner
    finally:
        box.remove(force=True)


def wait_for_engine(socket: Path, box, timeout: float = 60) -> docker.DockerClient:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket.exists():
            try:
                client = docker.DockerClient(base_url=f"unix://{socket}", version="auto")
                client.ping()
                return client
            except (docker.errors.DockerException, OSError):
                pass
        time.sleep(0.5)
    raise RuntimeError(f"the node's engine did not start:\n{box.logs().decode()[-3000:]}")


@pytest.fixture(scope="module")
def task(node):
    """A project server's service on the node, hardened as the spawner hardens it."""
    box, inner = node
    spec = ContainerSpec(
        BASE_IMAGE, args=["python3", "-m", "http.server", "8888"],
        mounts=[Mount("/home/jovyan/dataset", DATASET, type="bind", read_only=True),
                Mount("/home/jovyan/work", WORK, type="bind")],
    )  # fmt: skip
    template = TaskTemplate(spec, resources=Resources(mem_limit=512 * 2**20, cpu_limit=10**9))
    inner.api.create_network("hds-project-p", driver="overlay", internal=True,
                             attachable=True, options={"encrypted": "true"})  # fmt: skip
    hardening = ServiceHardening(
        user="1000:1000", pids_limit=256, scratch_size=2**28, network="hds-project-p",
        mount_sources=frozenset({DATASET, WORK}),
    )  # fmt: skip
    kwargs = hardening.apply({"name": "hds-ann--p", "task_template": template})
    inner.api.create_service(**kwargs)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = inner.containers.list(filters={"label": "com.docker.swarm.service.name=hds-ann--p"})
        if found:
            return found[0]
        time.sleep(0.5)
    tasks = inner.api.tasks(filters={"service": "hds-ann--p"})
    raise RuntimeError(f"no task container: {json.dumps([t['Status'] for t in tasks])}")


def test_the_nodes_engine_runs_with_the_setups_defaults(node):
    box, inner = node
    assert box.exec_run(["cat", "/etc/docker/daemon.json"]).output == DAEMON_JSON.read_bytes()
    assert inner.info()["LoggingDriver"] == "json-file"
    # Docker 20.10's `info` does not list no-new-privileges: a plain container shows it.
    out = inner.containers.run(BASE_IMAGE, ["grep", "NoNewPrivs", "/proc/self/status"], remove=True)
    assert out.decode().split() == ["NoNewPrivs:", "1"]


def test_every_process_of_the_task_has_no_new_privileges(task):
    code, status = task.exec_run(["grep", "NoNewPrivs", "/proc/self/status"], user="1000:1000")
    assert code == 0 and status.decode().split() == ["NoNewPrivs:", "1"]
    code, status = task.exec_run(["grep", "NoNewPrivs", "/proc/1/status"])
    assert status.decode().split() == ["NoNewPrivs:", "1"]


def test_inspect_of_the_task_shows_the_hardening(task):
    host = task.attrs["HostConfig"]
    assert task.attrs["Config"]["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
    assert host["PidsLimit"] == 256 and host["Memory"] == 512 * 2**20
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-file": "3", "max-size": "10m"},
    }
    binds = {m["Destination"]: m["RW"] for m in task.attrs["Mounts"] if m["Type"] == "bind"}
    assert binds == {"/home/jovyan/dataset": False, "/home/jovyan/work": True}
    networks = task.attrs["NetworkSettings"]["Networks"]
    assert set(networks) == {"hds-project-p"}  # no docker_gwbridge: no way out


def test_the_task_sees_its_dataset_read_only_and_cannot_leave(task):
    code, out = task.exec_run(["ls", "/home/jovyan/dataset"], user="1000:1000")
    assert code == 0 and out.decode().split() == ["cohort.csv"]
    code, out = task.exec_run(["touch", "/home/jovyan/dataset/x"], user="1000:1000")
    assert code != 0 and b"Read-only file system" in out
    probe = "import socket\ntry:\n socket.create_connection(('1.1.1.1', 443), 3)\n print('open')\nexcept OSError as e:\n print(type(e).__name__)"
    assert task.exec_run(["python3", "-c", probe]).output.decode().strip() != "open"
