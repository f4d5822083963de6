"""Plan limits for real: the shipped hub, real containers, real volumes, the real idle culler."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hds_quota.volumes import ProjectVolumes
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_project

pytestmark = pytest.mark.docker

M = 1024**2
EXTRA_CONFIG = """
from hds_quota.plans import DEFAULT_PLANS
base = {**DEFAULT_PLANS["public"], "storage": "64M", "members": 3}
c.Plans.idle_timeout_floor = 10
c.Plans.plans.update({
    "small": {**base, "memory": "256M", "cpu": 0.5, "running_servers": 1},
    "roomy": {**base, "memory": "512M", "cpu": 1, "storage": "128M", "running_servers": 2},
    "metered": {**base, "cpu": 1, "cpu_hours_month": 0.005},  # 18 CPU-seconds
    "brief": {**base, "idle_timeout": 15},
})
c.Quotas.compute_check_interval = 2
c.JupyterHub.last_activity_interval = 5
c.Quotas.idle_check_interval = 3
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client):
    hub = RealHub(tmp_path_factory.mktemp("quota"), extra_config=EXTRA_CONFIG).start()
    yield hub
    hub.stop()


def start(hub, user, project):
    return hub.api("POST", f"/users/{user}/servers/{project}")


def stop(hub, user, project):
    assert hub.api("DELETE", f"/users/{user}/servers/{project}").status_code in (202, 204)
    hub.wait_for_server(user, project, ready=False)


def running(hub, docker_client, user, project):
    assert start(hub, user, project).status_code in (201, 202)
    hub.wait_for_server(user, project)
    return docker_client.containers.get(f"{RUN_PREFIX}-{user}--{project}")


def run_in(box, code: str) -> tuple[int, str]:
    exit_code, output = box.exec_run(["python3", "-c", code], user="1000:1000")
    return exit_code, output.decode(errors="replace")


def ledger_lines(hub) -> list[dict]:
    lines = []
    for path in sorted((hub.state_dir / "usage").glob("ledger-*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


def sessions(hub, user, project) -> list[tuple[str, str | None]]:
    """The ledger's start and stop records of `user`'s server for `project`: (kind, reason)."""
    return [
        (r["kind"], r.get("reason"))
        for r in ledger_lines(hub)
        if (r["kind"], r.get("user"), r["project"])
        in {("start", user, project), ("stop", user, project)}
    ]


def ledger_time(hub, user, project, kind) -> datetime:
    (record,) = [
        r
        for r in ledger_lines(hub)
        if (r["kind"], r.get("user"), r["project"]) == (kind, user, project)
    ]
    return parse_time(record["time"])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def volume(hub, project):
    """The project's volume as the hub's host sees it."""
    return ProjectVolumes(hub.state_dir / "project-volumes", hub.state_dir / "projects").usage(
        project
    )


WRITE = """
import hashlib, os, sys
data = os.urandom({size})
try:
    with open("{path}", "wb") as out:
        out.write(data); out.flush(); os.fsync(out.fileno())
except OSError as error:
    print("ERRNO", error.errno, error.strerror); sys.exit(3)
print(hashlib.sha256(data).hexdigest())
"""
DIGEST = "import hashlib; print(hashlib.sha256(open('{path}', 'rb').read()).hexdigest())"
FREE = "import os; s = os.statvfs('{path}'); print(s.f_blocks * s.f_frsize)"


def test_memory_limit_kills_an_allocation_beyond_it(hub, docker_client):
    make_project(hub, "mem", ["ann"], plan="small")
    box = running(hub, docker_client, "ann", "mem")
    assert box.attrs["HostConfig"]["Memory"] == 256 * M
    assert box.attrs["HostConfig"]["MemorySwap"] == 256 * M
    small = "b = bytearray(32 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('ok')"
    assert run_in(box, small) == (0, "ok\n")
    big = "b = bytearray(400 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('ok')"
    code, output = run_in(box, big)
    assert code == 137 and "ok" not in output, (code, output)  # SIGKILL: the OOM killer
    assert box.attrs["HostConfig"]["OomKillDisable"] is not True
    assert hub.api("GET", "/users/ann").json()["servers"]["mem"]["ready"]
    stop(hub, "ann", "mem")


def test_writes_past_the_storage_limit_fail_and_a_plan_change_grows_it(hub, docker_client):
    make_project(hub, "disk", ["bea", "cal"], plan="small")
    box = running(hub, docker_client, "bea", "disk")
    # The container sees the project's own 64 MiB volume (its capacity: the size less ext4's own).
    small = volume(hub, "disk")
    assert small.size == 64 * M and small.capacity < 64 * M
    assert int(run_in(box, FREE.format(path="/home/jovyan/work"))[1]) == small.capacity
    code, kept = run_in(box, WRITE.format(path="/home/jovyan/work/kept.bin", size=40 * M))
    assert code == 0, kept
    code, output = run_in(box, WRITE.format(path="/home/jovyan/shared/more.bin", size=40 * M))
    assert code == 3 and "No space left on device" in output, output
    assert run_in(box, DIGEST.format(path="/home/jovyan/work/kept.bin"))[1] == kept
    # The project's volume is one filesystem: another member's space shares the limit.
    stop(hub, "bea", "disk")

    assert hub.api("PUT", "/groups/disk/properties",
                   json={"plan": "roomy", "dataset": "disk"}).status_code == 200  # fmt: skip
    box = running(hub, docker_client, "bea", "disk")
    roomy = volume(hub, "disk")
    assert roomy.size == 128 * M and 64 * M < roomy.capacity < 128 * M
    assert int(run_in(box, FREE.format(path="/home/jovyan/work"))[1]) == roomy.capacity
    assert run_in(box, DIGEST.format(path="/home/jovyan/work/kept.bin"))[1] == kept
    code, output = run_in(box, WRITE.format(path="/home/jovyan/shared/more.bin", size=40 * M))
    assert code == 0, output
    # The plan's CPU and memory changed too, at this start, with no hub restart.
    host = box.attrs["HostConfig"]
    assert host["Memory"] == 512 * M and host["CpuQuota"] == host["CpuPeriod"]
    stop(hub, "bea", "disk")

    # Back to the small plan: 80 MiB of files do not fit 64 MiB, so no server starts.
    assert hub.api("PUT", "/groups/disk/properties",
                   json={"plan": "small", "dataset": "disk"}).status_code == 200  # fmt: skip
    refused = start(hub, "cal", "disk")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "Project 'disk' cannot start: its plan (small) allows 64 MiB of storage and the "
        "project's files take 80 MiB. An administrator must free space in it or move the "
        "project to a larger plan."
    )


def test_a_running_server_stops_when_the_projects_compute_runs_out(hub, docker_client):
    make_project(hub, "meter", ["dan"], plan="metered")
    running(hub, docker_client, "dan", "meter")
    # How soon after the compute runs out it stops: tests/benchmarks/bench_stops.py.
    hub.wait_for_server("dan", "meter", ready=False, timeout=300)
    assert not [c for c in docker_client.containers.list(all=True) if c.name.endswith("--meter")]
    assert sessions(hub, "dan", "meter") == [("start", None), ("stop", "quota-compute")]
    # Not before: 0.005 CPU-hours on 1 CPU are 18 s of running.
    ran = ledger_time(hub, "dan", "meter", "stop") - ledger_time(hub, "dan", "meter", "start")
    assert ran.total_seconds() >= 0.005 * 3600 / 1, ran
    # (The quota.stopped event itself is checked in tests/hub/test_quota_hub.py.)
    assert "stopping dan/meter: project meter used 0.005" in hub.log(400)
    again = start(hub, "dan", "meter")
    assert again.status_code == 403
    assert "includes 0.005 CPU-hours a month and 0.0" in again.json()["message"]


def test_the_running_servers_limit_refuses_the_next_member(hub, docker_client):
    make_project(hub, "pair", ["eve", "fox"], plan="small")
    running(hub, docker_client, "eve", "pair")
    refused = start(hub, "fox", "pair")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "Project 'pair' cannot start: its plan (small) allows 1 server running at once and 1 is "
        "running. Stop one of them, or an administrator can move the project to a larger plan."
    )
    assert not [c for c in docker_client.containers.list(all=True) if c.name.endswith("fox--pair")]
    stop(hub, "eve", "pair")


def test_members_beyond_the_plan_are_refused_when_added(hub):
    make_project(hub, "crowd", ["gil", "hal", "ida"], plan="small")
    hub.api("POST", "/users/jay")
    refused = hub.api("POST", "/groups/crowd/users", json={"users": ["jay"]})
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "Project 'crowd' cannot have 4 members: its plan (small) allows 3. Remove members or "
        "move the project to a larger plan first."
    )
    assert sorted(hub.api("GET", "/groups/crowd").json()["users"]) == ["gil", "hal", "ida"]


def test_idle_servers_are_culled_after_their_plans_timeout_and_not_before(hub, docker_client):
    make_project(hub, "brief", ["kay"], plan="brief")
    make_project(hub, "long", ["kay"], plan="roomy")
    running(hub, docker_client, "kay", "brief")
    running(hub, docker_client, "kay", "long")
    # The culler counts idle time from the server's last activity; it can only move later.
    server = hub.api("GET", "/users/kay").json()["servers"]["brief"]
    active = parse_time(server["last_activity"] or server["started"])
    # How soon after the timeout it goes: tests/benchmarks/bench_stops.py.
    hub.wait_for_server("kay", "brief", ready=False, timeout=300)
    assert sessions(hub, "kay", "brief") == [("start", None), ("stop", "stopped")]
    idle = ledger_time(hub, "kay", "brief", "stop") - active
    assert idle.total_seconds() >= 15, idle  # the brief plan's idle_timeout: not culled before
    assert "Culling server kay/brief" in hub.log(1000)
    # The roomy plan's server, as idle, stays: its timeout is the public plan's hour.
    assert hub.api("GET", "/users/kay").json()["servers"]["long"]["ready"]
    stop(hub, "kay", "long")


def test_the_ledger_records_a_start_and_a_stop_with_the_plans_limits(hub, docker_client):
    make_project(hub, "books", ["lea"], plan="roomy")
    running(hub, docker_client, "lea", "books")
    stop(hub, "lea", "books")
    assert sessions(hub, "lea", "books") == [("start", None), ("stop", "stopped")]
    (started,) = [r for r in ledger_lines(hub) if (r["kind"], r["project"]) == ("start", "books")]
    assert (started["plan"], started["cpu"], started["memory"], started["storage"]) == (
        "roomy", 1.0, 512 * M, 128 * M,
    )  # fmt: skip
