"""The hosting team's datasets through the real hub: import by the REST API, list, page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from support.audit_record import EMITTING_LOGIN, wait_for
from support.hub import ROOT, RealHub, browser_login, make_project

pytestmark = pytest.mark.hub

SPEC = ROOT / "demo" / "raw-extract" / "spec.toml"


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("raw-extract")
    subprocess.run([sys.executable, str(ROOT / "demo" / "raw-extract" / "make_extract.py"),
                    str(folder)], check=True, capture_output=True)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = RealHub(tmp_path_factory.mktemp("datasets-hub"), extra_config=EMITTING_LOGIN).start()
    make_project(hub, "cohort", ["ann"])  # its own dataset for now; the import gives a second
    yield hub
    hub.stop()


def token(hub, user: str) -> str:
    """An API token of `user`: scripts import with one (the hub takes no form posts with a
    browser's cookie on its API)."""
    made = hub.api("POST", f"/users/{user}/tokens", json={"expires_in": 3600, "note": "import"})
    assert made.status_code == 201, made.text
    return made.json()["token"]


def upload(hub, user, name, extract, spec=SPEC, **fields):
    files = [("files", (p.name, p.read_bytes())) for p in sorted(extract.glob("*.csv"))]
    files.append(("spec", ("spec.toml", spec.read_bytes())))
    return requests.post(f"{hub.url}/hub/api/hds/datasets/{name}/versions", files=files,
                         data=fields, headers={"Authorization": f"token {token(hub, user)}"},
                         timeout=300)  # fmt: skip


def xsrf(session) -> dict[str, str]:
    return {"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/")}


def test_an_import_through_the_api_makes_a_version_the_project_can_name(hub, extract):
    root = browser_login(hub, "root")  # the hosting team
    made = upload(hub, "root", "cohort-extract", extract, project="cohort")
    assert made.status_code == 201, made.text
    version = made.json()["version"]
    listing = root.get(f"{hub.url}/hub/api/hds/datasets", headers=xsrf(root), timeout=30).json()
    (mine,) = [d for d in listing["datasets"] if d["name"] == "cohort-extract"]
    assert (mine["project"], mine["rows"]["patients"], mine["used_by"]) == ("cohort", 12000, [])
    assert "key" not in mine and len(mine["key_id"]) == 16
    properties = {"plan": "public", "dataset": f"cohort-extract@{version}"}
    assert hub.api("PUT", "/groups/cohort/properties", json=properties).ok
    page = root.get(f"{hub.url}/hub/hds/datasets", timeout=30)
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-dataset="cohort-extract@{version}"') :]
    assert "cohort" in row[: row.index("</tr>")]
    wait_for(hub, action="dataset.import", target=f"cohort-extract@{version}")
    raw = {p.name for p in (hub.state_dir / "datasets").iterdir()}
    assert not [n for n in raw if n.startswith(".uploads-")], "raw uploads left behind"


def test_a_refused_import_says_why_writes_nothing_and_is_recorded(hub, extract, tmp_path):
    strict = tmp_path / "strict.toml"
    strict.write_text(SPEC.read_text().replace("k = 5", "k = 500"))
    refused = upload(hub, "root", "too-fine", extract, spec=strict, project="cohort")
    assert refused.status_code == 422
    assert "rows sit in groups smaller than k = 500" in refused.json()["message"]
    assert not (hub.state_dir / "datasets" / "too-fine").exists() or not any(
        p.name.isdigit() for p in (hub.state_dir / "datasets" / "too-fine").iterdir()
    )
    wait_for(hub, action="dataset.import.refused", project="cohort")


def test_an_import_for_no_project_is_refused(hub, extract):
    refused = upload(hub, "root", "orphan", extract, project="nowhere")
    assert refused.status_code == 422 and "nowhere" in refused.json()["message"]


def test_researchers_reach_neither_the_api_nor_the_page(hub, extract):
    ann = browser_login(hub, "ann")
    assert ann.get(f"{hub.url}/hub/hds/datasets", timeout=30).status_code == 403
    assert upload(hub, "ann", "sneaky", extract, project="cohort").status_code == 403
    anonymous = requests.get(f"{hub.url}/hub/api/hds/datasets", timeout=30)
    assert anonymous.status_code == 403
