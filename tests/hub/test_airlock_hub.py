"""The airlock inside an in-process hub: servers ask with their own token, checkers decide.

JupyterHub's MockHub runs the airlock's handlers and templates; servers are MockSpawner
processes (no Docker) whose member folder is the user's name. The project's files are a
real folder tree under the test's state folder, as the volume is on a real host.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub import orm, roles, scopes
from jupyterhub.tests.mocking import MockSpawner
from jupyterhub.tests.utils import api_request, async_requests, auth_header, public_url

from jupyter_hds.airlock import retention
from jupyter_hds.airlock.config import CHECKER_ROLE, TEMPLATES
from jupyter_hds.airlock.desk import ReleaseDesk
from jupyter_hds.airlock.handlers import API_HANDLERS, DESK_KEY, REVIEW_SCOPE
from jupyter_hds.airlock.pages import PAGE_HANDLERS
from jupyter_hds.airlock.store import ReleaseStore
from jupyter_hds.policy.airlock import Airlock
from support.mockhub import make_group_project

pytestmark = pytest.mark.hub

TABLE = b"age_band,sex,count\n40-44,F,12\n40-44,M,3\n"
FIGURE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x08" + bytes(64)


class MemberSpawner(MockSpawner):
    """A mock server whose member folder is its user's name (HDSDockerSpawner escapes it)."""

    def member_slug(self) -> str:
        return self.user.name


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    return tmp_path_factory.mktemp("airlock-state")


@pytest.fixture
def hub(app, state):
    if not getattr(app, "_hds_airlock_handlers", False):
        handlers = app.add_url_prefix(app.hub_prefix, [*API_HANDLERS, *PAGE_HANDLERS])
        app.tornado_application.add_handlers(".*$", handlers)
        scopes.define_custom_scopes({REVIEW_SCOPE: {"description": "Review releases."}})
        roles.create_role(app.db, {k: v for k, v in CHECKER_ROLE.items() if k != "groups"})
        app._hds_airlock_handlers = True
    app.config.Deployment.state_dir = str(state)
    app.tornado_settings.pop(DESK_KEY, None)
    env = app.tornado_settings["jinja2_env"]
    loader, env.loader = env.loader, ChoiceLoader([FileSystemLoader(TEMPLATES), env.loader])
    settings = {"allow_named_servers": True, "spawner_class": MemberSpawner}
    try:
        with mock.patch.dict(app.tornado_settings, settings):
            yield app
    finally:
        env.loader = loader
        env.cache.clear()


def checker(app, name):
    make_group_project(app, f"{name}-own", [name])  # a user, member of another project
    user = orm.User.find(app.db, name)
    roles.grant_role(app.db, user, "output-checker")
    return name


async def server_of(app, name, project):
    """Start `name`'s server for `project`; its own token and its work folder."""
    response = await api_request(app, "users", name, "servers", project, method="post")
    assert response.status_code in (201, 202), response.text
    spawner = app.users[name].spawners[project]
    while not spawner.ready:
        await spawner._spawn_future
    work = app.config.Deployment.state_dir + f"/projects/{project}/users/{name}"
    os.makedirs(work, exist_ok=True)
    os.makedirs(app.config.Deployment.state_dir + f"/projects/{project}/shared", exist_ok=True)
    return spawner.api_token, work


def entry(path, data, **extra):
    return {"path": path, "description": "counts by age band and sex", "min_cell_size": 12,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **extra}  # fmt: skip


def request_body(project, *files, **extra):
    return {"project": project, "purpose": "Table 2 of the paper", "files": list(files),
            "notebook_outputs": "strip", "share_with_project": False, "replaces": None, **extra}  # fmt: skip


async def ask(app, token, body):
    return await api_request(
        app, "hds", "airlock", "requests", method="post", json=body,
        headers={"Authorization": f"token {token}"},
    )  # fmt: skip


async def listed(app, token, project):
    response = await api_request(
        app, "hds", f"airlock/requests?project={project}",
        headers={"Authorization": f"token {token}"},
    )  # fmt: skip
    return response


async def decide(app, who, request_id, decision, comment=""):
    return await api_request(
        app, "hds", "airlock", "requests", request_id, "decision", method="post",
        headers=auth_header(app.db, who), json={"decision": decision, "comment": comment},
    )  # fmt: skip


async def test_a_server_asks_with_its_own_token_and_the_files_are_frozen(hub, recorded):
    make_group_project(hub, "air-a", ["ann"])
    token, work = await server_of(hub, "ann", "air-a")
    with open(f"{work}/t.csv", "wb") as f:
        f.write(TABLE)
    response = await ask(hub, token, request_body("air-a", entry("work/t.csv", TABLE)))
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["status"], made["files"][0]["sha256"]) == (
        "submitted", hashlib.sha256(TABLE).hexdigest())  # fmt: skip
    with open(f"{work}/t.csv", "wb") as f:
        f.write(b"changed afterwards\n")
    blob = f"{hub.config.Deployment.state_dir}/releases/{made['id']}/files/1"
    assert Path(blob).read_bytes() == TABLE
    assert oct(os.stat(f"{hub.config.Deployment.state_dir}/releases").st_mode & 0o777) == "0o700"
    mine = (await listed(hub, token, "air-a")).json()["requests"]
    assert [(r["id"], r["files"][0]["path"], r["comments"]) for r in mine] == [
        (made["id"], "work/t.csv", [])]  # fmt: skip
    assert [(e.action, e.actor, e.project) for e in recorded] == [
        ("airlock.requested", "ann", "air-a"),
        ("airlock.checked", "service:jupyterhub", "air-a"),
    ]
    await api_request(hub, "users", "ann", "servers", "air-a", method="delete")


async def test_what_the_token_does_not_prove_is_refused(hub, recorded):
    make_group_project(hub, "air-b", ["bob"])
    make_group_project(hub, "air-c", ["bob"])
    token, work = await server_of(hub, "bob", "air-b")
    with open(f"{work}/t.csv", "wb") as f:
        f.write(TABLE)
    os.symlink(f"{hub.config.Deployment.state_dir}/datasets/cohort/patients.parquet",
               f"{work}/p.parquet")  # fmt: skip
    good = request_body("air-b", entry("work/t.csv", TABLE))
    anonymous = await api_request(hub, "hds", "airlock", "requests", method="post", json=good,
                                  headers={"Authorization": "token " + "f" * 32})  # fmt: skip
    assert anonymous.status_code == 401
    users_own = await api_request(hub, "hds", "airlock", "requests", method="post", json=good,
                                  headers=auth_header(hub.db, "bob"))  # fmt: skip
    assert users_own.status_code == 403
    cases = [
        (request_body("air-c", entry("work/t.csv", TABLE)), 403, "wrong-project"),
        (request_body("air-b", entry("dataset/patients.parquet", b"PAR1 rows PAR1")), 403,
         "dataset"),
        (request_body("air-b", entry("work/p.parquet", b"PAR1 rows PAR1")), 403, "symlink"),
        (request_body("air-b", entry("work/gone.csv", TABLE)), 404, "missing"),
        (request_body("air-b"), 400, "empty"),
    ]  # fmt: skip
    for body, status, reason in cases:
        response = await ask(hub, token, body)
        assert (response.status_code, response.json()["reason"]) == (status, reason), body
    elsewhere = await listed(hub, token, "air-c")
    assert elsewhere.status_code == 403
    refused = [e for e in recorded if e.outcome == "refused"]
    assert [(e.actor, e.details["reason"]) for e in refused] == [
        ("anonymous", "token"), ("bob", "token"), ("bob", "wrong-project"), ("bob", "dataset"),
        ("bob", "symlink"), ("bob", "missing"), ("bob", "empty")]  # fmt: skip
    hub.db.query(orm.Group).filter_by(name="air-b").one().users = []
    hub.db.commit()
    gone = await ask(hub, token, good)
    assert (gone.status_code, gone.json()["reason"]) == (403, "not-member")
    assert not os.listdir(f"{hub.config.Deployment.state_dir}/releases") or all(
        not name.startswith(".partial") for name in os.listdir(
            f"{hub.config.Deployment.state_dir}/releases"))  # fmt: skip
    await api_request(hub, "users", "bob", "servers", "air-b", method="delete")


async def test_two_checkers_review_and_the_requester_downloads(hub, recorded):
    make_group_project(hub, "air-d", ["dan", "dee"])
    carl, dora = checker(hub, "carl"), checker(hub, "dora")
    token, work = await server_of(hub, "dan", "air-d")
    with open(f"{work}/t.csv", "wb") as f:
        f.write(TABLE)
    with open(f"{work}/fig.png", "wb") as f:
        f.write(FIGURE)
    files = [entry("work/t.csv", TABLE), entry("work/fig.png", FIGURE, min_cell_size=None)]
    made = (await ask(hub, token, request_body("air-d", *files))).json()

    assert (await api_request(hub, "hds", "airlock", "queue",
                              headers=auth_header(hub.db, "dee"))).status_code == 403  # fmt: skip
    queue = await api_request(hub, "hds", "airlock", "queue", headers=auth_header(hub.db, carl))
    assert made["id"] in [r["id"] for r in queue.json()["requests"]]
    shown = await api_request(hub, "hds", "airlock", "requests", made["id"],
                              headers=auth_header(hub.db, carl))  # fmt: skip
    flags = shown.json()["files"][0]["check"]["flags"]
    assert [f["code"] for f in flags] == ["small-count"]
    assert shown.json()["files"][1]["check"]["summary"]["width"] == 16

    changes = await decide(hub, carl, made["id"], "request-changes", "The 3 is under 11.")
    assert changes.json()["status"] == "in-review"
    twice = await decide(hub, carl, made["id"], "approve")
    assert (twice.status_code, twice.json()["reason"]) == (409, "voted-twice")
    hidden = await api_request(hub, "hds", "airlock", "requests", made["id"],
                               headers=auth_header(hub.db, dora))  # fmt: skip
    assert (hidden.json()["votes"], hidden.json()["votes_in"]) == ([], 1)
    assert (await listed(hub, token, "air-d")).json()["requests"][0]["comments"] == []
    decided = await decide(hub, dora, made["id"], "approve")
    assert decided.json()["status"] == "changes-requested"
    comments = (await listed(hub, token, "air-d")).json()["requests"][0]["comments"]
    assert [(c["author"], c["text"]) for c in comments] == [("carl", "The 3 is under 11."),
                                                             ("dora", "")]  # fmt: skip

    fixed = TABLE.replace(b"3\n", b"<11\n")
    with open(f"{work}/t.csv", "wb") as f:
        f.write(fixed)
    again = await ask(hub, token, request_body("air-d", entry("work/t.csv", fixed),
                                               replaces=made["id"]))  # fmt: skip
    assert again.status_code == 201, again.text
    second = again.json()["id"]
    await decide(hub, carl, second, "approve")
    released = await decide(hub, dora, second, "approve", "fine")
    assert released.json()["status"] == "released"

    session = await hub.login_user("dan")
    url = public_url(hub) + f"hub/hds/airlock/requests/{second}/download/1"
    download = await async_requests.get(url, cookies=session)
    assert download.status_code == 200, download.text
    assert download.content == fixed
    assert "attachment" in download.headers["Content-Disposition"]
    colleague = await async_requests.get(url, cookies=await hub.login_user("dee"))
    assert colleague.status_code == 403
    actions = [(e.action, e.actor, e.outcome) for e in recorded if e.target == second]
    assert actions[-4:] == [
        ("airlock.approved", "dora", "succeeded"),
        ("airlock.released", "service:jupyterhub", "succeeded"),
        ("airlock.downloaded", "dan", "succeeded"),
        ("airlock.downloaded", "dee", "refused"),
    ]
    await api_request(hub, "users", "dan", "servers", "air-d", method="delete")


async def test_the_review_page_shows_files_and_takes_a_decision(hub, recorded):
    make_group_project(hub, "air-e", ["eli"])
    carl = checker(hub, "carl")
    token, work = await server_of(hub, "eli", "air-e")
    with open(f"{work}/t.csv", "wb") as f:
        f.write(TABLE)
    with open(f"{work}/fig.png", "wb") as f:
        f.write(FIGURE)
    files = [entry("work/t.csv", TABLE), entry("work/fig.png", FIGURE, min_cell_size=None)]
    made = (await ask(hub, token, request_body("air-e", *files))).json()

    cookies = await hub.login_user(carl)
    base = public_url(hub) + "hub/hds/airlock"
    queue = await async_requests.get(base, cookies=cookies)
    assert queue.status_code == 200 and made["id"] in queue.text
    assert "script-src" not in queue.headers["Content-Security-Policy"]
    assert "default-src 'none'" in queue.headers["Content-Security-Policy"]
    assert "<script" not in queue.text
    page = await async_requests.get(f"{base}/requests/{made['id']}", cookies=cookies)
    assert re.search(r'<td class="table-danger flagged" data-flag="small-count">3</td>', page.text)
    image = f"hub/hds/airlock/requests/{made['id']}/files/2"
    assert re.search(f'<img [^>]*src="[^"]*/{image}"', page.text), page.text
    shown = await async_requests.get(public_url(hub) + image, cookies=cookies)
    assert (shown.content, shown.headers["Content-Type"]) == (FIGURE, "image/png")
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    owner_view = await async_requests.get(public_url(hub) + image,
                                          cookies=await hub.login_user("eli"))  # fmt: skip
    assert owner_view.status_code == 403

    forged = await async_requests.post(f"{base}/requests/{made['id']}", cookies=cookies,
                                       data={"decision": "approve"})  # fmt: skip
    assert forged.status_code == 403  # no xsrf token
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)[1]
    voted = await async_requests.post(
        f"{base}/requests/{made['id']}", cookies=cookies,
        data={"_xsrf": xsrf, "decision": "request-changes", "comment": "The 3 in row 2."},
    )  # fmt: skip
    assert voted.status_code == 200 and "Your vote is recorded" in voted.text
    assert 'id="cannot-vote"' in voted.text
    assert [(e.action, e.actor) for e in recorded][-1] == ("airlock.changes-requested", "carl")
    await api_request(hub, "users", "eli", "servers", "air-e", method="delete")


async def test_a_purged_request_keeps_its_record_and_shows_no_frozen_copy(hub, recorded, state):
    make_group_project(hub, "air-p", ["pia"])
    carl, dora = checker(hub, "carl"), checker(hub, "dora")
    token, work = await server_of(hub, "pia", "air-p")
    with open(f"{work}/fig.png", "wb") as f:
        f.write(FIGURE)
    made = (await ask(hub, token, request_body("air-p", entry("work/fig.png", FIGURE)))).json()
    for who in (carl, dora):
        assert (await decide(hub, who, made["id"], "reject", "no")).status_code == 200
    desk = ReleaseDesk(ReleaseStore(state / "releases"), Airlock())
    later = datetime.now(UTC) + timedelta(days=91)  # past the default 90 days
    done = retention.purge(desk.store, Airlock(), later, lambda fields: None)
    assert made["id"] in [d["target"] for d in done]  # with this module's other finished ones

    cookies = await hub.login_user(carl)
    page = await async_requests.get(
        public_url(hub) + f"hub/hds/airlock/requests/{made['id']}", cookies=cookies
    )
    assert page.status_code == 200 and 'id="purged"' in page.text
    assert hashlib.sha256(FIGURE).hexdigest() in page.text  # what was reviewed stays
    assert "frozen-image" not in page.text
    image = public_url(hub) + f"hub/hds/airlock/requests/{made['id']}/files/1"
    assert (await async_requests.get(image, cookies=cookies)).status_code == 410
    await api_request(hub, "users", "pia", "servers", "air-p", method="delete")
