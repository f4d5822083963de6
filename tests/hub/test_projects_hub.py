"""Project checks inside a real (in-process) hub: groups, properties, membership, the home page."""

from __future__ import annotations

from unittest import mock

import pytest
from jupyterhub import orm
from jupyterhub.tests.mocking import MockSpawner
from jupyterhub.tests.utils import api_request

from jupyter_hds.projects.home import project_rows
from jupyter_hds.projects.spawner import ProjectSpawnerMixin
from support.mockhub import make_group_project

pytestmark = pytest.mark.hub


class ProjectMockSpawner(ProjectSpawnerMixin, MockSpawner):
    """The project logic on JupyterHub's mock spawner: no Docker, same checks."""

    def apply_project(self, project, storage):
        self.environment = {**self.environment, "HDS_PROJECT": project.name}


class BrokenEngine(MockSpawner):
    async def start(self):
        raise RuntimeError("the container engine is not answering")


class FailingProjectSpawner(ProjectSpawnerMixin, BrokenEngine):
    """A project server whose engine fails after the project checks passed."""

    def apply_project(self, project, storage):
        pass


@pytest.fixture
def hub(app, tmp_path):
    app.config.Deployment.state_dir = str(tmp_path)
    app.config.ProjectSettings.uid = app.config.ProjectSettings.gid = (
        __import__("os").getuid() or 1000
    )
    settings = {
        "allow_named_servers": True,
        "named_server_limit_per_user": 0,
        "spawner_class": ProjectMockSpawner,
    }
    with mock.patch.dict(app.tornado_settings, settings):
        yield app


def project(app, name, members, **properties):
    return make_group_project(app, name, members, **properties)


async def test_member_starts_and_non_member_is_refused_with_an_event(hub, recorded):
    project(hub, "cohort-a", ["ann"])
    project(hub, "cohort-b", ["ben"])
    refused = await api_request(hub, "users", "ann", "servers", "cohort-b", method="post")
    assert refused.status_code == 403
    assert "not a member" in refused.json()["message"]
    assert [(e.action, e.actor, e.project) for e in recorded] == [
        ("server.refused", "ann", "cohort-b")
    ]
    started = await api_request(hub, "users", "ann", "servers", "cohort-a", method="post")
    assert started.status_code in (201, 202)  # started, or still starting: either is a start
    spawner = hub.users["ann"].spawners["cohort-a"]
    assert spawner.environment["HDS_PROJECT"] == "cohort-a"
    await api_request(hub, "users", "ann", "servers", "cohort-a", method="delete")


async def test_home_rows_show_only_projects_with_their_problems(hub):
    project(hub, "cohort-c", ["cid"])
    project(hub, "cohort-d", ["cid"], plan="gold")
    project(hub, "cohort-e", ["eve"])
    other = orm.Group(name="not-a-project", properties={"colour": "blue"})
    hub.db.add(other)
    user = hub.users[orm.User.find(hub.db, "cid")]
    other.users.append(user.orm_user)
    hub.db.commit()
    rows = {row.name: row for row in project_rows(user)}
    assert set(rows) == {"cohort-c", "cohort-d"}
    assert rows["cohort-c"].problem == ""
    assert "plan 'gold' is not defined" in rows["cohort-d"].problem


async def test_a_start_that_fails_after_the_checks_is_recorded(hub, recorded):
    project(hub, "cohort-f", ["fay"])
    with mock.patch.dict(hub.tornado_settings, {"spawner_class": FailingProjectSpawner}):
        response = await api_request(hub, "users", "fay", "servers", "cohort-f", method="post")
    # Past the project checks (a refusal would be 403): the hub's own answer to a failed spawn.
    assert response.status_code == 500, response.text
    [failed] = [e for e in recorded if e.action == "server.started"]
    assert (failed.outcome, failed.project, failed.target) == ("failed", "cohort-f", "fay/cohort-f")
    assert "the container engine is not answering" in failed.details["error"]
