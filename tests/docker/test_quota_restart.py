"""A hub restart with servers left running: volumes stay mounted, the compute watch resumes."""

from __future__ import annotations

import json

import pytest

from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_project

pytestmark = pytest.mark.docker

EXTRA_CONFIG = """
from hds_quota.plans import DEFAULT_PLANS
base = {**DEFAULT_PLANS["public"], "storage": "64M"}
c.Plans.plans.update({
    "roomy": {**base, "cpu": 1, "memory": "512M"},
    "metered": {**base, "cpu": 1, "memory": "512M", "cpu_hours_month": 0.005},
})
c.Quotas.compute_check_interval = 2
c.JupyterHub.cleanup_servers = False  # servers outlive the hub, as operators may choose
"""


def mounted(path) -> bool:
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[4] == str(path) for line in table)


def test_servers_survive_a_hub_restart_and_are_still_metered(tmp_path, docker_client):
    hub = RealHub(tmp_path, extra_config=EXTRA_CONFIG).start()
    try:
        make_project(hub, "keep", ["ann"], plan="roomy")
        assert hub.api("POST", "/users/ann/servers/keep").status_code in (201, 202)
        hub.wait_for_server("ann", "keep")
        box = docker_client.containers.get(f"{RUN_PREFIX}-ann--keep")
        code, _ = box.exec_run(["sh", "-c", "echo kept > /home/jovyan/work/note"], user="1000")
        assert code == 0
        hub.stop(unmount=False)
        volume = tmp_path / "projects" / "keep"
        box.reload()
        assert box.status == "running" and mounted(volume)

        hub.start()
        assert hub.wait_for_server("ann", "keep")["ready"]
        assert box.exec_run(["cat", "/home/jovyan/work/note"], user="1000").output == b"kept\n"
        # The watch resumed: a plan with almost no compute stops the server it restored.
        assert hub.api("PUT", "/groups/keep/properties",
                       json={"plan": "metered", "dataset": "keep"}).ok  # fmt: skip
        hub.wait_for_server("ann", "keep", ready=False, timeout=90)
        assert not mounted(volume)
        lines = [
            json.loads(line)
            for path in sorted((tmp_path / "usage").glob("ledger-*.jsonl"))
            for line in path.read_text().splitlines()
        ]
        assert [(r["kind"], r.get("reason")) for r in lines if r["kind"] != "project"] == [
            ("start", None), ("stop", "quota-compute"),
        ]  # fmt: skip
    finally:
        hub.stop()
