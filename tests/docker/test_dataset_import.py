"""An imported dataset in a member's container: the version, read-only, and no key anywhere."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from support.docker_engine import RUN_PREFIX
from support.hub import ROOT, make_project

pytestmark = pytest.mark.docker

EXTRACT = ROOT / "demo" / "raw-extract"
# In the container, as the server's user: every file the server can read under these roots,
# its environment and every process's command line and environment, searched for `needles`.
SEARCH = r"""
import os, sys
needles = [bytes.fromhex(n) for n in sys.argv[1:]]
found = []
for root in ("/home/jovyan", "/tmp", "/etc", "/opt/hds/etc", "/run", "/var"):
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as stream:
                    data = stream.read(64 << 20)
            except OSError:
                continue
            found += [path for n in needles if n in data]
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == os.getpid():  # this search: its arguments are the needles
        continue
    for part in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{part}", "rb") as stream:
                data = stream.read()
        except OSError:
            continue
        found += [f"/proc/{pid}/{part}" for n in needles if n in data]
print("\n".join(found) or "nothing")
"""


def hds(hub, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HDS_STATE_DIR": str(hub.state_dir),
        "JUPYTERHUB_API_URL": f"{hub.url}/hub/api",
        "JUPYTERHUB_API_TOKEN": hub.token,
    }
    command = [sys.executable, "-m", "jupyter_hds.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def imported(real_hub, tmp_path_factory):
    """Project `cohort` onboarded without a dataset, then its dataset imported for it."""
    raw = tmp_path_factory.mktemp("raw")
    subprocess.run([sys.executable, str(EXTRACT / "make_extract.py"), str(raw)], check=True,
                   capture_output=True)  # fmt: skip
    make_project(real_hub, "cohort", ["ann"], dataset="")  # onboarding: no dataset yet
    done = hds(real_hub, "dataset", "import", "cohort-data", "--project", "cohort",
               "--spec", str(EXTRACT / "spec.toml"), *map(str, sorted(raw.glob("*.csv"))))  # fmt: skip
    assert done.returncode == 0, done.stderr
    properties = {"plan": "public", "dataset": "cohort-data"}
    assert real_hub.api("PUT", "/groups/cohort/properties", json=properties).ok
    return raw


def start(hub, docker_client):
    response = hub.api("POST", "/users/ann/servers/cohort")
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server("ann", "cohort")
    return docker_client.containers.get(f"{RUN_PREFIX}-ann--cohort")


def stop(hub):
    assert hub.api("DELETE", "/users/ann/servers/cohort").status_code in (202, 204)
    hub.wait_for_server("ann", "cohort", ready=False)


def run(box, *command: str) -> tuple[int, str]:
    code, output = box.exec_run(list(command), user="1000:1000")
    return code, output.decode(errors="replace")


def test_a_member_sees_the_imported_version_read_only(real_hub, docker_client, imported):
    box = start(real_hub, docker_client)
    try:
        code, listing = run(box, "ls", "/home/jovyan/dataset")
        assert code == 0 and listing.split() == [
            "labs.parquet", "manifest.json", "patients.parquet", "stays.parquet"
        ], listing  # fmt: skip
        code, output = run(box, "touch", "/home/jovyan/dataset/new")
        assert code != 0 and "Read-only file system" in output
        code, names = run(
            box, "python", "-c", "import hds_dataset; print(sorted(hds_dataset.tables()))"
        )
        assert code == 0 and "patients" in names, names
        code, manifest = run(box, "cat", "/home/jovyan/dataset/manifest.json")
        assert code == 0 and json.loads(manifest)["project"] == "cohort"
        assert json.loads(manifest)["version"] == 1
    finally:
        stop(real_hub)


def test_no_key_material_is_anywhere_in_the_container(real_hub, docker_client, imported):
    key = (real_hub.state_dir / "keys" / "cohort.key").read_bytes()
    needles = {key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)}
    box = start(real_hub, docker_client)
    try:
        environment = "\n".join(box.attrs["Config"]["Env"]).encode()
        assert not [n for n in needles if n in environment]
        mounts = [m["Source"] for m in box.attrs["Mounts"]]
        assert not [m for m in mounts if "keys" in m.split("/")]
        code, found = run(box, "python", "-c", SEARCH, *(n.hex() for n in needles))
        assert code == 0 and found.strip() == "nothing", found
    finally:
        stop(real_hub)


def test_a_new_version_reaches_members_at_their_next_start(real_hub, docker_client, imported):
    box = start(real_hub, docker_client)
    try:
        done = hds(real_hub, "dataset", "import", "cohort-data", "--project", "cohort",
                   "--spec", str(EXTRACT / "spec.toml"),
                   *map(str, sorted(imported.glob("*.csv"))))  # fmt: skip
        assert done.returncode == 0, done.stderr
        code, manifest = run(box, "cat", "/home/jovyan/dataset/manifest.json")
        assert code == 0 and json.loads(manifest)["version"] == 1  # a running server keeps its
    finally:
        stop(real_hub)
    shown = hds(real_hub, "project", "show", "cohort")
    assert '"dataset_version": 2' in shown.stdout, shown.stdout + shown.stderr
    box = start(real_hub, docker_client)
    try:
        source = [m["Source"] for m in box.attrs["Mounts"] if m["Destination"].endswith("/dataset")]
        assert source == [str(real_hub.state_dir / "datasets" / "cohort-data" / "2")]
    finally:
        stop(real_hub)
