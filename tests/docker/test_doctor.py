"""`hds doctor` on a real host: a running hub with a server is healthy; a lost rule is found."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest

from jupyter_hds.backup import cli as backup_cli
from jupyter_hds.operations import cli as doctor
from jupyter_hds.projects import firewall
from jupyter_hds.projects.networks import bridge_of
from support.docker_engine import RUN_PREFIX
from support.hub import RealHub, make_dataset, make_project

pytestmark = pytest.mark.docker


def run_doctor(state, capsys) -> tuple[int, dict[str, list[dict]]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir", default=str(state))
    doctor.add_commands(parser.add_subparsers(dest="command"))
    code = doctor.cmd_doctor(parser.parse_args(["--state-dir", str(state), "doctor", "--json"]))
    found: dict[str, list[dict]] = {}
    for finding in json.loads(capsys.readouterr().out):
        found.setdefault(finding["check"], []).append(finding)
    return code, found


def test_doctor_on_a_running_hub(tmp_path, docker_client, capsys):
    (tmp_path / "backup-password").write_text("doctor\n")
    settings = f"""
        c.Backup.repository = "{tmp_path / "repository"}"
        c.Backup.password_file = "{tmp_path / "backup-password"}"
        c.Backup.cache_dir = "{tmp_path / "cache"}"
    """
    hub = RealHub(tmp_path / "state", extra_config=settings).start()
    try:
        make_dataset(hub, "cohort", project="checked")
        make_project(hub, "checked", ["ann"], dataset="cohort")
        assert hub.api("POST", "/users/ann/servers/checked").status_code in (201, 202)
        hub.wait_for_server("ann", "checked")

        code, found = run_doctor(hub.state_dir, capsys)
        assert code == 1  # no backup yet, and that alone
        assert [f["check"] for fs in found.values() for f in fs if not f["ok"]] == ["backup"]
        assert "1 mounted, each with servers running" in found["volumes"][0]["message"]
        assert "1 project network(s) closed" in found["firewall"][0]["message"]

        assert backup_cli.main(["--state-dir", str(hub.state_dir), "backup", "create"]) == 0
        capsys.readouterr()
        code, found = run_doctor(hub.state_dir, capsys)
        assert code == 0, found

        # A firewall reload drops a project's rule: the doctor names the bridge.
        network = docker_client.api.inspect_network(f"{RUN_PREFIX}-project-checked")
        bridge = bridge_of(network)
        rule = firewall.rules_for(bridge, hub.hub_port)[1]
        subprocess.run(["iptables", "-w", "-D", firewall.CHAIN, *rule], check=True)
        code, found = run_doctor(hub.state_dir, capsys)
        assert code == 1
        (lost,) = [f for f in found["firewall"] if not f["ok"]]
        assert f"{bridge} (1 rule(s))" in lost["message"] and "start them again" in lost["fix"]
    finally:
        hub.stop()
