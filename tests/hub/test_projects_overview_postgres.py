"""The projects overview and New project form through the real hub, its database on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.audit_record import EMITTING_LOGIN
from support.hub import RealHub, make_dataset, make_project
from support.postgres import postgres, reuse_module  # noqa: F401 (fixture)

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory, postgres):  # noqa: F811
    hub = RealHub(
        tmp_path_factory.mktemp("overview-pg"),
        extra_config=EMITTING_LOGIN,
        db_url=postgres.new_database("overview"),
    ).start()
    make_dataset(hub, "cohort-data", project="zeta")
    make_dataset(hub, "second-data", project="alpha")
    make_project(hub, "zeta", ["ann", "ben"], dataset="cohort-data", expires="2030-06-30")
    make_project(hub, "alpha", ["cid"], plan="private", dataset="second-data")
    yield hub
    hub.stop()


def test_the_hub_keeps_its_state_in_postgresql(hub, postgres):  # noqa: F811
    database = hub.db_url.rsplit("/", 1)[1]
    assert not (hub.state_dir / "jupyterhub.sqlite").exists()
    groups = postgres.psql("SELECT name FROM groups ORDER BY name", database).split()
    assert {"alpha", "zeta"} <= set(groups)


reuse_module(Path(__file__).with_name("test_projects_overview.py"), globals())
