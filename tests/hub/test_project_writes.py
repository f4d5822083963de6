"""Projects are checked when written: the REST API (and so the admin panel) refuses bad ones."""

from __future__ import annotations

import json
import shutil

import pytest
from jupyterhub import orm
from jupyterhub.tests.utils import add_user, api_request

from hds_quota.plans import DEFAULT_PLANS
from jupyter_hds.projects import validation
from support.datasets import write_dataset

pytestmark = pytest.mark.hub


@pytest.fixture
def hub(app, tmp_path):
    app.config.Deployment.state_dir = str(tmp_path)
    for name in ("w-good", "w-duo", "w-later", "w-staff"):
        write_dataset(tmp_path / "datasets", name)
    app.config.Plans.plans = {**DEFAULT_PLANS, "duo": {**DEFAULT_PLANS["public"], "members": 2}}
    validation.install(lambda: app.config)
    yield app
    validation.uninstall()


async def put_properties(app, name, properties):
    return await api_request(
        app, "groups", name, "properties", method="put", data=json.dumps(properties)
    )


async def new_group(app, name):
    response = await api_request(app, "groups", name, method="post")
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "case_id, properties, message",
    [
        ("unknown-plan", {"plan": "pubic", "dataset": "cohort"},
         "plan 'pubic' is not defined; defined plans: duo, private, public"),
        ("dataset-path", {"plan": "public", "dataset": "../etc"}, "'../etc' cannot name a dataset"),
        ("dataset-missing", {"plan": "public", "dataset": "nowhere"}, "there is no dataset 'nowhere'"),
        ("another-projects", {"plan": "public", "dataset": "w-good"},
         "w-good was imported for project 'w-good'"),
        ("bad-date", {"plan": "public", "dataset": "cohort", "expires": "31/12/2026"},
         "write `expires` as YYYY-MM-DD"),
        ("unknown-key", {"plan": "public", "dataset": "cohort", "colour": "red"},
         "remove unknown properties colour"),
    ],
)  # fmt: skip
async def test_bad_properties_are_refused_with_what_to_fix(hub, case_id, properties, message):
    name = f"w-{case_id}"
    await new_group(hub, name)
    response = await put_properties(hub, name, properties)
    assert response.status_code == 400, response.text
    text = response.json()["message"]
    assert text.startswith(f"Project '{name}' cannot start: its settings are invalid.")
    assert message in text
    assert orm.Group.find(hub.db, name).properties == {}, "nothing of it was kept"


async def test_good_properties_are_written(hub):
    await new_group(hub, "w-good")
    properties = {"plan": "public", "dataset": "w-good", "expires": "2030-01-31"}
    response = await put_properties(hub, "w-good", properties)
    assert response.status_code == 200, response.text
    assert orm.Group.find(hub.db, "w-good").properties == properties


async def test_a_group_that_is_no_project_is_left_alone(hub):
    await new_group(hub, "w-staff")
    assert (await put_properties(hub, "w-staff", {"colour": "blue"})).status_code == 200


async def test_members_beyond_the_plan_are_refused(hub):
    await new_group(hub, "w-duo")
    assert (await put_properties(hub, "w-duo", {"plan": "duo", "dataset": "w-duo"})).ok
    for name in ("ann", "ben", "cid"):
        add_user(hub.db, hub, name=name)
    body = json.dumps({"users": ["ann", "ben"]})
    assert (await api_request(hub, "groups", "w-duo", "users", method="post", data=body)).ok
    body = json.dumps({"users": ["cid"]})
    response = await api_request(hub, "groups", "w-duo", "users", method="post", data=body)
    assert response.status_code == 400
    assert "cannot have 3 members: its plan (duo) allows 2" in response.json()["message"]
    assert sorted(u.name for u in orm.Group.find(hub.db, "w-duo").users) == ["ann", "ben"]


async def test_a_project_that_became_invalid_later_can_still_lose_members(hub, tmp_path):
    await new_group(hub, "w-later")
    assert (await put_properties(hub, "w-later", {"plan": "public", "dataset": "w-later"})).ok
    add_user(hub.db, hub, name="dan")
    body = json.dumps({"users": ["dan"]})
    assert (await api_request(hub, "groups", "w-later", "users", method="post", data=body)).ok
    shutil.rmtree(tmp_path / "datasets" / "w-later")  # the dataset went away after onboarding
    response = await api_request(hub, "groups", "w-later", "users", method="delete", data=body)
    assert response.status_code == 200, response.text
