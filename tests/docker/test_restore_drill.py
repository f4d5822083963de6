"""The restore drill: a real hub's state backed up, destroyed with its containers, restored, used.

What the hosting offer promises (docs/operating.md, "Restore"): from a backup alone the
service comes back with its projects, members, plans, volumes and their files, datasets,
the usage ledger and an audit record that verifies and continues from where it stopped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from hds_quota.ledger import Ledger, utcnow
from hds_quota.usage import Month, Usage
from hds_quota.volumes import mounts
from jupyter_hds.audit.verify import Verifier
from jupyter_hds.backup import cli as backup_cli
from support import docker_engine
from support.audit_record import wait_for
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project

pytestmark = pytest.mark.docker

PLANS = dedent("""
    from hds_quota.plans import DEFAULT_PLANS
    c.Plans.plans.update({"drill": {**DEFAULT_PLANS["public"], "storage": "64M", "cpu": 1,
                                    "memory": "512M"}})
""")


def backup_settings(tmp_path) -> str:
    return dedent(f"""
        c.Backup.repository = "{tmp_path / "repository"}"
        c.Backup.password_file = "{tmp_path / "backup-password"}"
        c.Backup.cache_dir = "{tmp_path / "restic-cache"}"
    """)


def as_member(docker_client, user: str, project: str, command: str) -> str:
    box = docker_client.containers.get(f"{RUN_PREFIX}-{user}--{project}")
    code, output = box.exec_run(["sh", "-c", command], user="1000")
    assert code == 0, output.decode(errors="replace")
    return output.decode()


def start(hub: RealHub, user: str, project: str) -> None:
    response = hub.api("POST", f"/users/{user}/servers/{project}")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server(user, project)


def hds(*args: str) -> None:
    assert backup_cli.main(list(args)) == 0


def test_a_backup_restores_a_working_service(tmp_path, docker_client):
    state = tmp_path / "state"
    (tmp_path / "backup-password").write_text("drill password\n")
    (state / "conf.d").mkdir(parents=True)
    (state / "conf.d" / "20-plans.py").write_text(PLANS)  # the operator's own fragment
    hub = RealHub(state, extra_config=backup_settings(tmp_path)).start()
    try:
        make_dataset(hub, "cohort", {"patients.csv": b"id,age\n1,40\n"}, project="drill-a")
        make_project(hub, "drill-a", ["ann", "bob"], plan="drill", dataset="cohort")
        make_project(hub, "drill-b", ["cid"], plan="drill", description="b")  # its own dataset
        start(hub, "cid", "drill-b")
        as_member(docker_client, "cid", "drill-b", "echo from cid > ~/shared/notes.md")
        assert hub.api("DELETE", "/users/cid/servers/drill-b").status_code in (202, 204)
        hub.wait_for_server("cid", "drill-b", ready=False)
        start(hub, "ann", "drill-a")  # still running during the backup: its volume is frozen
        as_member(docker_client, "ann", "drill-a", "seq 1 1000 > ~/work/result.txt")
        wait_for(hub, action="server.start", count=2)

        hds("--state-dir", str(state), "backup", "create")
        (created,) = wait_for(hub, action="backup.created")
        assert created["outcome"] == "succeeded" and created["details"]["live_volumes"] == []
        head = Verifier(state / "audit").verify()  # at least what the backup holds
        saved_head = created["details"]["audit_head_seq"]
        assert saved_head <= head.head_seq
    finally:
        hub.stop()

    # Disaster: the containers, their networks and the whole state folder are gone.
    docker_engine.remove_objects(docker_client, only_dead=False)
    assert not [p for p in mounts() if p.startswith(f"{state}/")]
    shutil.rmtree(state)

    hds("--state-dir", str(state), "backup", "restore", "latest", "--config-root", "/",
        "--repository", str(tmp_path / "repository"),
        "--password-file", str(tmp_path / "backup-password"))  # fmt: skip
    assert (state / "conf.d" / "20-plans.py").read_text() == PLANS
    restored = Verifier(state / "audit").verify()
    assert restored.intact and restored.head_seq == saved_head

    hub = RealHub(state, extra_config=backup_settings(tmp_path)).start()
    try:
        # Projects, members and plans, through the hub's API.
        for name, members, plan in (("drill-a", ["ann", "bob"], "drill"), ("drill-b", ["cid"], "drill")):  # fmt: skip
            group = hub.api("GET", f"/groups/{name}").json()
            assert sorted(group["users"]) == members and group["properties"]["plan"] == plan
        # Members' files in their volumes, and the dataset, from real containers.
        start(hub, "ann", "drill-a")
        assert as_member(docker_client, "ann", "drill-a", "tail -n 1 ~/work/result.txt") == "1000\n"
        assert as_member(docker_client, "ann", "drill-a", "cat ~/dataset/patients.csv").startswith(
            "id,age"
        )
        start(hub, "cid", "drill-b")
        assert as_member(docker_client, "cid", "drill-b", "cat ~/shared/notes.md") == "from cid\n"
        # The audit record verifies and continues from the restored head.
        (event,) = wait_for(hub, action="backup.restored")
        assert event["details"]["audit_head_seq"] == saved_head and event["seq"] > saved_head
        wait_for(hub, action="server.start", where=lambda e: e["seq"] > saved_head, count=2)
        check = subprocess.run(
            [str(Path(sys.executable).parent / "hds"), "--state-dir", str(state), "audit", "verify", "--json"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["intact"]
        after = _entry(state, saved_head + 1)
        assert after["prev"] == restored.head_hash
        # The ledger's sessions from before the disaster, and the new ones after.
        sessions = Usage(Ledger(state / "usage")).sessions(Month.of(utcnow()))
        runs = [(s.project, s.user) for s in sessions]
        assert runs.count(("drill-b", "cid")) == 2 and runs.count(("drill-a", "ann")) == 2
    finally:
        hub.stop()


def _entry(state, seq: int) -> dict:
    for path in sorted((state / "audit" / "segments").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry["seq"] == seq:
                return entry
    raise AssertionError(f"no entry {seq} in the open segments of {state}")
