"""`hds project ...` against the real hub: scripted onboarding, refused bad input, closing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.hub import make_dataset, make_project

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def hds(real_hub):
    make_dataset(real_hub, "cohort-data", project="cohort-a")
    env = {
        **os.environ,
        "HDS_STATE_DIR": str(real_hub.state_dir),
        "HDS_CONFIG_DIR": str(real_hub.config_dir),
        "JUPYTERHUB_API_URL": f"{real_hub.url}/hub/api",
        "JUPYTERHUB_API_TOKEN": real_hub.token,
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [str(Path(sys.executable).parent / "hds"), "project", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    return run


@pytest.mark.parametrize(
    "case_id, args, message",
    [
        ("bad-name", ["Cohort_A", "--plan", "public", "--dataset", "cohort-data"], "cannot be a project name"),
        ("unknown-plan", ["cohort-a", "--plan", "gold", "--dataset", "cohort-data"], "plan 'gold' is not defined"),
        ("dataset-path", ["cohort-a", "--plan", "public", "--dataset", "../etc"], "cannot name a dataset"),
        ("bad-date", ["cohort-a", "--plan", "public", "--dataset", "cohort-data", "--expires", "soon"], "YYYY-MM-DD"),
    ],
)  # fmt: skip
def test_create_refuses_bad_input_and_creates_nothing(real_hub, hds, case_id, args, message):
    result = hds("create", *args, "--member", "zed")
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert real_hub.api("GET", "/groups/cohort-a").status_code == 404
    assert real_hub.api("GET", "/users/zed").status_code == 404


def test_create_show_set_check_and_close(real_hub, hds):
    created = hds(
        "create", "cohort-a", "--plan", "public", "--dataset", "cohort-data",
        "--description", "Heart failure cohort", "--member", "ann", "--member", "ben",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert hds("create", "cohort-a", "--plan", "public", "--dataset", "cohort-data").returncode == 2

    shown = json.loads(hds("show", "cohort-a").stdout)
    assert shown["members"] == ["ann", "ben"] and shown["problem"] is None
    assert shown["properties"]["description"] == "Heart failure cohort"

    refused = hds("set", "cohort-a", "plan=gold")
    assert refused.returncode == 2 and "plan 'gold'" in refused.stderr
    changed = hds("set", "cohort-a", "plan=private", "description=")
    assert json.loads(changed.stdout) == {"plan": "private", "dataset": "cohort-data"}
    assert hds("check").returncode == 0

    started = real_hub.api("POST", "/users/ann/servers/cohort-a")
    assert started.status_code in (201, 202), started.text
    real_hub.wait_for_server("ann", "cohort-a")
    assert hds("close", "cohort-a").returncode == 2  # needs --yes
    closed = hds("close", "cohort-a", "--yes")
    assert closed.returncode == 0 and "stopped 1 server" in closed.stdout, closed.stderr
    real_hub.wait_for_server("ann", "cohort-a", ready=False)
    assert real_hub.api("GET", "/groups/cohort-a").status_code == 404


def test_check_fails_on_a_project_that_became_invalid(real_hub, hds):
    folder = make_dataset(real_hub, "broken-data", project="broken")
    make_project(real_hub, "broken", [], dataset="broken-data")
    try:
        shutil.rmtree(folder)  # the dataset went away after onboarding
        result = hds("check")
        assert result.returncode == 1 and "broken: Project 'broken' cannot start" in result.stdout
    finally:
        # The module's other tests expect `hds check` to pass.
        assert real_hub.api("DELETE", "/groups/broken").status_code == 204
