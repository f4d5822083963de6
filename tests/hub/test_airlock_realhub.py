"""The airlock in a real hub running the shipped config: roles, the CLI over the REST API, audit.

A request is put in the hub's release area by the desk itself (no user server here: the
docker tier asks from a real one); output checkers then review it with `hds airlock`, the
hub records every decision in its audit record, and `hds audit export` finds them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io

import pytest
import requests

from jupyter_hds import cli as hds_cli
from jupyter_hds.airlock import cli as airlock_cli
from jupyter_hds.airlock.desk import ReleaseDesk
from jupyter_hds.airlock.freeze import Sources
from jupyter_hds.airlock.store import ReleaseStore
from jupyter_hds.hub_api import HubAPIError
from jupyter_hds.policy.access import ProjectFacts
from jupyter_hds.policy.airlock import Airlock, parse_draft
from support.airlock import checkers, file_entry
from support.audit_record import EMITTING_LOGIN, wait_for
from support.hub import RealHub, browser_login, make_dataset, make_project

pytestmark = pytest.mark.hub

TABLE = b"age_band,sex,count\n40-44,F,12\n40-44,M,3\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    extra = EMITTING_LOGIN + checkers("carl", "dora", "lou")
    hub = RealHub(tmp_path_factory.mktemp("airlock-hub"), extra_config=extra).start()
    yield hub
    hub.stop()


def token_of(hub, name: str) -> str:
    hub.api("POST", f"/users/{name}")  # 409 when it exists: fine
    response = hub.api("POST", f"/users/{name}/tokens", json={"note": "airlock test"})
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture(scope="module")
def planted(hub):
    """Rosa's request in project cohort, frozen by the desk in the hub's release area."""
    make_dataset(hub, "cohort")
    make_project(hub, "cohort", ["rosa", "lou"])
    work = hub.state_dir / "projects" / "cohort" / "users" / "rosa"
    work.mkdir(parents=True)
    (work / "t.csv").write_bytes(TABLE)
    body = {"project": "cohort", "purpose": "Table 2", "files": [file_entry("work/t.csv", TABLE)]}
    draft = parse_draft(body, max_files=20, max_bytes=10**6)
    desk = ReleaseDesk(ReleaseStore(hub.state_dir / "releases"), Airlock())
    facts = ProjectFacts.of("cohort", {"plan": "public", "dataset": "cohort"}, ["rosa", "lou"])
    sources = Sources(hub.state_dir / "projects", "cohort", "rosa", None)
    return desk.submit("rosa", draft, facts, sources, "public")["id"]


def hds_airlock(monkeypatch, capsys, hub, who: str, *argv: str) -> str:
    """Run `hds airlock ...` as `who` (their own token), return what it printed."""
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"{hub.url}/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token_of(hub, who))
    parser = argparse.ArgumentParser(prog="hds")
    airlock_cli.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["airlock", *argv])
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_the_roles_scope_and_checkers_group_are_in_place(hub):
    group = hub.api("GET", "/groups/output-checkers").json()
    assert sorted(group["users"]) == ["carl", "dora", "lou"]
    assert "output-checker" in group["roles"]
    carl = hub.api("GET", "/user", token=token_of(hub, "carl")).json()
    assert "custom:airlock:review" in carl["scopes"]
    eve = hub.api("GET", "/user", token=token_of(hub, "eve")).json()
    assert "custom:airlock:review" not in eve["scopes"]


def test_checkers_review_with_the_cli_and_the_record_keeps_every_vote(
    hub, planted, monkeypatch, capsys
):
    listed = hds_airlock(monkeypatch, capsys, hub, "carl", "list")
    assert planted in listed and "0/2 votes" in listed and "1 flags" in listed
    shown = hds_airlock(monkeypatch, capsys, hub, "carl", "show", planted)
    assert '"code": "small-count"' in shown
    said = hds_airlock(monkeypatch, capsys, hub, "carl", "request-changes", planted, "-m",
                       "The 3 in row 2 is under 11.")  # fmt: skip
    assert "is now in-review (1/2 votes)" in said
    with pytest.raises(HubAPIError, match="409.*already voted"):
        hds_airlock(monkeypatch, capsys, hub, "carl", "approve", planted)
    with pytest.raises(HubAPIError, match="403.*member of project cohort"):
        hds_airlock(monkeypatch, capsys, hub, "lou", "approve", planted)
    said = hds_airlock(monkeypatch, capsys, hub, "dora", "approve", planted)
    assert "is now changes-requested (2/2 votes)" in said
    assert planted in hds_airlock(monkeypatch, capsys, hub, "dora", "list", "--all")

    (changes,) = wait_for(hub, action="airlock.changes-requested")
    assert (changes["actor"], changes["project"], changes["target"]) == ("carl", "cohort", planted)
    assert changes["details"]["comment"] == "The 3 in row 2 is under 11."
    assert changes["details"]["files"] == [
        {"path": "work/t.csv", "size": len(TABLE), "sha256": hashlib.sha256(TABLE).hexdigest()}]  # fmt: skip
    found = wait_for(hub, count=4, action="airlock")
    assert [(e["action"], e["actor"], e["outcome"]) for e in found] == [
        ("airlock.changes-requested", "carl", "succeeded"),
        ("airlock.approved", "carl", "refused"),
        ("airlock.approved", "lou", "refused"),
        ("airlock.approved", "dora", "succeeded"),
    ]
    exported = io.StringIO()
    monkeypatch.setattr("sys.stdout", exported)
    hds_cli.main(["--state-dir", str(hub.state_dir), "audit", "export", "--action", "airlock"])
    rows = list(csv.DictReader(io.StringIO(exported.getvalue())))
    assert [r["action"] for r in rows] == [e["action"] for e in found]


def test_people_without_the_role_cannot_review(hub, planted):
    rosa = token_of(hub, "rosa")
    queue = hub.api("GET", "/hds/airlock/queue", token=rosa)
    assert queue.status_code == 403
    assert "output-checker role" in queue.json()["message"]
    vote = hub.api("POST", f"/hds/airlock/requests/{planted}/decision", token=rosa,
                   json={"decision": "approve"})  # fmt: skip
    assert vote.status_code == 403
    service = hub.api("POST", "/hds/airlock/requests", json={"project": "cohort"})
    assert service.status_code == 403  # a service token is not a user server's


def test_the_page_is_served_with_a_strict_policy(hub, planted):
    session = browser_login(hub, "carl")
    page = session.get(f"{hub.url}/hub/hds/airlock", timeout=30)
    assert page.status_code == 200 and planted in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script" not in policy
    detail = session.get(f"{hub.url}/hub/hds/airlock/requests/{planted}", timeout=30)
    assert 'data-flag="small-count">3</td>' in detail.text
    stranger = browser_login(hub, "eve").get(
        f"{hub.url}/hub/hds/airlock/requests/{planted}", timeout=30
    )
    assert stranger.status_code == 404
    assert requests.get(f"{hub.url}/hub/hds/airlock", timeout=30, allow_redirects=False).is_redirect
