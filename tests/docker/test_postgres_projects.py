"""Project isolation again, for real, with the hub's database on PostgreSQL.

The whole of test_projects.py: who may start which server, reaching servers across
projects, bad properties, members removed and projects ended stopping servers. These read
and write groups, properties, memberships, tokens and servers through the hub's ORM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.hub import RealHub, make_dataset, make_project
from support.postgres import postgres, reuse_module  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client, postgres):  # noqa: F811
    hub = RealHub(
        tmp_path_factory.mktemp("projects-pg"),
        extra_config='c.JupyterHub.authenticator_class = "dummy"',
        db_url=postgres.new_database("projects"),
    ).start()
    make_dataset(hub, "alpha-data", {"cohort.csv": b"id,age\n1,40\n"})
    make_dataset(hub, "beta-data", {"secret-beta.csv": b"id,age\n9,90\n"})
    make_project(hub, "alpha", ["alice", "carol"], dataset="alpha-data")
    make_project(hub, "beta", ["bob"], dataset="beta-data")
    yield hub
    hub.stop()


def test_the_hub_runs_on_postgresql(hub, postgres):  # noqa: F811
    assert not (hub.state_dir / "jupyterhub.sqlite").exists()
    database = hub.db_url.rsplit("/", 1)[1]
    assert (
        postgres.psql("SELECT count(*) FROM groups WHERE name IN ('alpha', 'beta')", database)
        == "2"
    )


reuse_module(Path(__file__).with_name("test_projects.py"), globals())
