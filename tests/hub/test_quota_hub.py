"""Quotas inside a real (in-process) hub: admission races, refusals, the ledger, the compute watch.

JupyterHub's mock spawner runs a real single-user process; the project mixin and its quotas
are the real ones, and so are the volumes (loop mounts: run as root, as the hub does).
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from unittest import mock

import pytest
from jupyterhub import orm
from jupyterhub.tests.mocking import MockSpawner
from jupyterhub.tests.utils import api_request

from hds_quota.compute import out_of_compute
from hds_quota.ledger import Ledger, server_stopped
from hds_quota.plans import DEFAULT_PLANS, Plans
from hds_quota.usage import Month, Usage
from hds_quota.volumes import mounts
from jupyter_hds.projects.spawner import ProjectSpawnerMixin
from support.mockhub import make_group_project
from support.usage import used_this_month

pytestmark = pytest.mark.hub

PLANS = {
    "solo": {**DEFAULT_PLANS["public"], "running_servers": 1, "members": 2, "storage": "64M"},
    "pair": {**DEFAULT_PLANS["public"], "running_servers": 2, "members": 3, "storage": "64M",
             "cpu": 1, "memory": "512M"},
    "metered": {**DEFAULT_PLANS["public"], "cpu": 1, "cpu_hours_month": 0.001, "storage": "64M"},
    "mini": {**DEFAULT_PLANS["public"], "storage": "32M"},
}  # fmt: skip


class QuotaMockSpawner(ProjectSpawnerMixin, MockSpawner):
    """The project and quota logic on JupyterHub's mock spawner: limits kept for checking."""

    def apply_project(self, project, storage):
        self.mem_limit, self.cpu_limit = project.plan.memory, project.plan.cpu
        self.environment = {**self.environment, "HDS_PROJECT": project.name}


@pytest.fixture
def hub(app, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("these tests loop-mount project volumes: run them as root, as the hub runs")
    config = app.config
    config.Deployment.state_dir = str(tmp_path)
    config.ProjectSettings.uid = config.ProjectSettings.gid = os.getuid() or 1000
    config.Quotas.compute_check_interval = 0.5  # also how long admission trusts its meter
    config.Plans.plans = {**DEFAULT_PLANS, **PLANS}
    settings = {
        "allow_named_servers": True,
        "named_server_limit_per_user": 0,
        "spawner_class": QuotaMockSpawner,
    }
    with mock.patch.dict(app.tornado_settings, settings):
        yield app
    for mountpoint in [m for m in mounts() if m.startswith(str(tmp_path))]:
        os.system(f"umount {mountpoint}")  # noqa: S605 (a test's own temporary mount)


def projects_dir(app) -> str:
    return os.path.join(app.config.Deployment.state_dir, "projects")


def project(app, name, members, **properties):
    return make_group_project(app, name, members, **{"plan": "solo", **properties})


async def start(app, user, server):
    return await api_request(app, "users", user, "servers", server, method="post")


async def stop(app, user, server):
    response = await api_request(app, "users", user, "servers", server, method="delete")
    assert response.status_code in (202, 204), response.text
    for _ in range(100):
        if not app.users[orm.User.find(app.db, user)].spawners[server].active:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{user}/{server} did not stop")


async def wait_ready(app, user, server, timeout=30):
    spawner = app.users[orm.User.find(app.db, user)].spawners[server]
    for _ in range(int(timeout * 10)):
        if spawner.ready:
            return spawner
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{user}/{server} not ready")


def ledger(app):
    return Ledger(os.path.join(app.config.Deployment.state_dir, "usage"))


def records(app):
    lines = []
    for path in ledger(app).files():
        lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


async def test_two_starts_racing_for_the_last_place_admit_exactly_one(hub, recorded):
    project(hub, "race", ["ann", "bob"])
    first, second = await asyncio.gather(start(hub, "ann", "race"), start(hub, "bob", "race"))
    codes = sorted([first.status_code, second.status_code])
    assert codes[0] in (201, 202) and codes[1] == 403, (first.text, second.text)
    refused = first if first.status_code == 403 else second
    assert refused.json()["message"] == (
        "Project 'race' cannot start: its plan (solo) allows 1 server running at once and 1 is "
        "running. Stop one of them, or an administrator can move the project to a larger plan."
    )
    assert [(e.action, e.details["reason"]) for e in recorded] == [
        ("server.refused", "quota-running")
    ]
    winner = "ann" if refused is second else "bob"
    await wait_ready(hub, winner, "race")
    await stop(hub, winner, "race")
    loser = "bob" if winner == "ann" else "ann"
    assert (await start(hub, loser, "race")).status_code in (201, 202)
    await wait_ready(hub, loser, "race")
    await stop(hub, loser, "race")


async def test_the_ledger_records_who_ran_what_with_which_limits(hub):
    project(hub, "led", ["cid"], plan="pair")
    assert (await start(hub, "cid", "led")).status_code in (201, 202)
    spawner = await wait_ready(hub, "cid", "led")
    steps = [event["message"] async for event in spawner.progress()]
    assert steps[0] == "Project led checked: you are a member, its settings are valid (plan pair)."
    assert steps[1].startswith("Storage ready: ") and "Compute in " in steps[1]
    assert steps[1].endswith(": 0 of 200 CPU-hours; this server counts 1 CPU-hours per hour.")
    await stop(hub, "cid", "led")
    started, stopped = [r for r in records(hub) if r["project"] == "led"]
    assert started["kind"] == "start" and started["user"] == "cid"
    assert (started["plan"], started["cpu"], started["memory"], started["members"]) == (
        "pair", 1.0, 512 * 1024**2, 1,
    )  # fmt: skip
    assert (stopped["kind"], stopped["reason"], stopped["user"]) == ("stop", "stopped", "cid")
    assert started["storage_used"] is not None and stopped["storage_used"] is not None


async def test_a_refused_start_writes_nothing_to_the_ledger(hub):
    project(hub, "crowd", ["dee", "eli", "fay"])  # solo allows 2 members
    response = await start(hub, "dee", "crowd")
    assert response.status_code == 403
    assert (
        "allows 2 members and it has 3. An administrator must remove 1 member"
        in (response.json()["message"])
    )
    assert not [r for r in records(hub) if r["project"] == "crowd"]


async def test_a_project_out_of_compute_cannot_start(hub):
    project(hub, "spent", ["gus"], plan="pair")
    used_this_month(ledger(hub), Plans(config=hub.config).get("pair"), "spent", "old", 200, 1)
    response = await start(hub, "gus", "spent")
    assert response.status_code == 403
    month = Month.of(datetime.now(UTC))
    assert response.json()["message"] == (
        f"Project 'spent' cannot start: its plan (pair) includes 200 CPU-hours a month and "
        f"200 were used in {month}. Compute renews on {month.following.start.date()}, or an "
        "administrator can move the project to a larger plan."
    )


async def test_a_server_stopped_for_compute_is_recorded_once_with_why(hub):
    """The usage service's compute watch records the stop, then stops the server through the
    API (tests/docker/test_quota_limits.py runs the real service); the hub adds no second one."""
    project(hub, "meter", ["hal"], plan="metered")  # 0.001 CPU-h = 3.6 CPU-seconds
    assert (await start(hub, "hal", "meter")).status_code in (201, 202)
    await wait_ready(hub, "hal", "meter")
    await asyncio.sleep(4)  # past the plan's compute
    used = Usage(ledger(hub)).cpu_hours_by_project(Month.of(datetime.now(UTC)))
    plans = {"meter": Plans(config=hub.config).get("metered")}
    (over,) = out_of_compute({("hal", "meter")}, plans, used)
    assert (over.user, over.project) == ("hal", "meter") and over.used >= 0.001
    ledger(hub).append(server_stopped("meter", "hal", "quota-compute"))
    await stop(hub, "hal", "meter")
    stops = [r for r in records(hub) if r["project"] == "meter" and r["kind"] == "stop"]
    assert [s["reason"] for s in stops] == ["quota-compute"]
    again = await start(hub, "hal", "meter")
    assert again.status_code == 403 and "includes 0.001 CPU-hours a month" in again.text


async def test_a_plan_change_applies_at_the_next_start_without_a_restart(hub):
    group = project(hub, "change", ["ivy", "jon"], plan="solo")
    assert (await start(hub, "ivy", "change")).status_code in (201, 202)
    spawner = await wait_ready(hub, "ivy", "change")
    assert (spawner.cpu_limit, spawner.mem_limit) == (2.0, 4 * 1024**3)
    assert (await start(hub, "jon", "change")).status_code == 403  # solo: 1 running
    group.properties = {**group.properties, "plan": "pair"}
    hub.db.commit()
    assert (await start(hub, "jon", "change")).status_code in (201, 202)  # pair: 2 running
    other = await wait_ready(hub, "jon", "change")
    assert (other.cpu_limit, other.mem_limit) == (1.0, 512 * 1024**2)
    await stop(hub, "ivy", "change")
    await stop(hub, "jon", "change")


async def test_the_volume_stays_mounted_while_any_member_runs(hub):
    project(hub, "shared", ["kim", "lea"], plan="pair")
    mountpoint = os.path.join(projects_dir(hub), "shared")
    for user in ("kim", "lea"):
        assert (await start(hub, user, "shared")).status_code in (201, 202)
        await wait_ready(hub, user, "shared")
    assert mountpoint in mounts()
    assert os.path.isdir(os.path.join(mountpoint, "users", "kim"))
    await stop(hub, "kim", "shared")
    assert mountpoint in mounts()
    await stop(hub, "lea", "shared")
    assert mountpoint not in mounts()


async def test_a_downgrade_below_the_files_refuses_the_start_and_keeps_them(hub, recorded):
    group = project(hub, "down", ["max"], plan="pair")
    assert (await start(hub, "max", "down")).status_code in (201, 202)
    await wait_ready(hub, "max", "down")
    big = os.path.join(projects_dir(hub), "down", "shared", "big.bin")
    with open(big, "wb") as out:
        out.write(os.urandom(40 * 1024**2))
    await stop(hub, "max", "down")
    group.properties = {**group.properties, "plan": "mini"}
    hub.db.commit()
    response = await start(hub, "max", "down")
    assert response.status_code == 403
    assert response.json()["message"].startswith(
        "Project 'down' cannot start: its plan (mini) allows 32 MiB of storage and the "
        "project's files take 40 MiB."
    )
    assert recorded[-1].details["reason"] == "quota-storage"
    group.properties = {**group.properties, "plan": "pair"}
    hub.db.commit()
    assert (await start(hub, "max", "down")).status_code in (201, 202)
    await wait_ready(hub, "max", "down")
    assert os.path.getsize(big) == 40 * 1024**2
    await stop(hub, "max", "down")


async def test_storage_that_cannot_be_mounted_refuses_without_showing_host_paths(hub, recorded):
    project(hub, "odd", ["ned"], plan="pair")
    target = os.path.join(projects_dir(hub), "odd")
    os.makedirs(target)
    assert os.system(f"mount -t tmpfs -o size=1m tmpfs {target}") == 0  # noqa: S605
    try:
        response = await start(hub, "ned", "odd")
    finally:
        os.system(f"umount {target}")  # noqa: S605
    assert response.status_code == 403
    assert response.json()["message"] == (
        "Project 'odd' cannot start: its storage could not be made ready. An administrator "
        "must check the hub's log (storage of project odd)."
    )
    assert recorded[-1].details["reason"] == "storage-unavailable"
    assert projects_dir(hub) not in response.text
