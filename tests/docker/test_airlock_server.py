"""The airlock from a real user container of the built image, through the real hub.

The researcher asks through the server extension (JupyterLab's route); the hub freezes the
files from the project's storage on the host: editing them afterwards changes nothing
reviewed. Dataset files are refused by the extension, and by the hub too when a container
bypasses the extension with its server's own token (which the researcher can read).
"""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from support import docker_engine
from support.airlock import file_entry, release_dir
from support.audit_record import wait_for
from support.hub import RealHub, make_dataset, make_project

pytestmark = pytest.mark.docker

USER = "ann-marie"  # escaped in folder names: ann-2dmarie
PROJECT = "airlock-x"
TABLE = b"age_band,sex,count\n40-44,F,12\n40-44,M,3\n"
PATIENTS = b"pseudo_id,sex\n0123456789abcdef0123,F\n"

# Run inside the container: POST straight to the hub with the server's token (no extension).
DIRECT = """
import json, os, urllib.error, urllib.request
url = os.environ["JUPYTERHUB_API_URL"] + "/hds/airlock/requests"
request = urllib.request.Request(url, data=os.environ["BODY"].encode(), method="POST",
    headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"],
             "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=60) as response:
        print(json.dumps({"status": response.status, "body": json.load(response)}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": json.loads(error.read() or b"null")}))
"""


class Researcher:
    """Ann-Marie, in her running server for the project."""

    def __init__(self, hub: RealHub, token: str, container):
        self.hub, self.token, self.container = hub, token, container
        self.url = f"{hub.url}/user/{USER}/{PROJECT}/api/hds/airlock/requests"

    def ask(self, body: dict) -> requests.Response:
        return requests.post(self.url, json=body, timeout=90,
                             headers={"Authorization": f"token {self.token}"})  # fmt: skip

    def listed(self) -> requests.Response:
        return requests.get(self.url, timeout=30, headers={"Authorization": f"token {self.token}"})

    def shell(self, command: str) -> str:
        code, output = self.container.exec_run(["sh", "-c", command], user="1000:1000")
        assert code == 0, output.decode()
        return output.decode()

    def direct(self, body: dict) -> dict:
        code, output = self.container.exec_run(
            ["python", "-c", DIRECT], environment={"BODY": json.dumps(body)}, user="1000:1000"
        )
        assert code == 0, output.decode()
        return json.loads(output.decode().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def researcher(tmp_path_factory, docker_client):
    hub = RealHub(
        tmp_path_factory.mktemp("airlock-server"),
    ).start()
    try:
        make_dataset(hub, PROJECT, {"patients.csv": PATIENTS})
        make_project(hub, PROJECT, [USER])
        token = hub.api("POST", f"/users/{USER}/tokens", json={"note": "airlock test"})
        assert token.status_code == 201, token.text
        started = hub.api("POST", f"/users/{USER}/servers/{PROJECT}")
        assert started.status_code in (201, 202), started.text
        hub.wait_for_server(USER, PROJECT)
        name = f"{docker_engine.RUN_PREFIX}-{USER.replace('-', '-2d')}--{PROJECT}"
        [container] = docker_client.containers.list(filters={"name": name})
        yield Researcher(hub, token.json()["token"], container)
    finally:
        hub.api("DELETE", f"/users/{USER}/servers/{PROJECT}")
        hub.wait_for_server(USER, PROJECT, ready=False)
        hub.stop()


def body(*files, **extra) -> dict:
    return {"purpose": "Table 2 of the cohort paper", "files": list(files),
            "notebook_outputs": "strip", "share_with_project": False, "replaces": None, **extra}  # fmt: skip


def test_a_request_from_jupyterlab_is_frozen_on_the_hub(researcher):
    researcher.shell(f"printf '{TABLE.decode()}' > ~/work/t.csv")
    asked = researcher.ask(body({"path": "work/t.csv", "description": "counts",
                                 "min_cell_size": 11}))  # fmt: skip
    assert asked.status_code == 201, asked.text
    made = asked.json()
    assert (made["status"], made["files"][0]["sha256"]) == (
        "submitted", hashlib.sha256(TABLE).hexdigest())  # fmt: skip
    frozen = release_dir(researcher.hub.state_dir, made["id"]) / "files" / "1"
    assert frozen.read_bytes() == TABLE
    researcher.shell("printf 'edited,after\\n1,2\\n' > ~/work/t.csv")
    assert frozen.read_bytes() == TABLE  # what is reviewed is what was asked for
    mine = researcher.listed()
    assert mine.status_code == 200, mine.text
    assert [r["id"] for r in mine.json()["requests"]] == [made["id"]]
    host_copy = researcher.hub.state_dir / "projects" / PROJECT / "users" / "ann-2dmarie" / "t.csv"
    assert host_copy.read_bytes() == b"edited,after\n1,2\n"  # the member folder, escaped
    (requested,) = wait_for(researcher.hub, action="airlock.requested", outcome="succeeded")
    assert (requested["actor"], requested["project"], requested["target"]) == (
        USER, PROJECT, made["id"])  # fmt: skip
    (checked,) = wait_for(researcher.hub, action="airlock.checked")
    assert "count: 1 cell(s) with a count from 1 to 10 (3)" in json.dumps(checked["details"])


def test_the_dataset_never_leaves_even_through_a_link(researcher):
    researcher.shell("ln -sf ~/dataset/patients.csv ~/work/p.csv")
    through_lab = researcher.ask(body({"path": "work/p.csv", "description": "rows",
                                       "min_cell_size": None}))  # fmt: skip
    assert through_lab.status_code == 403, through_lab.text
    assert "dataset" in through_lab.json()["message"]
    # The server's token is readable in the container: the hub refuses on its own.
    for path, reason in (("work/p.csv", "symlink"), ("dataset/patients.csv", "dataset")):
        answer = researcher.direct({"project": PROJECT, **body(file_entry(path, PATIENTS))})
        assert (answer["status"], answer["body"]["reason"]) == (403, reason), answer
    other = researcher.direct(
        {"project": "someone-else", **body(file_entry("work/p.csv", PATIENTS))}
    )
    assert (other["status"], other["body"]["reason"]) == (403, "wrong-project")
    refused = wait_for(researcher.hub, count=3, action="airlock.requested", outcome="refused")
    assert [e["details"]["reason"] for e in refused] == ["symlink", "dataset", "wrong-project"]
    assert all(e["actor"] == USER for e in refused)
