"""The sharing tests of the in-process hub again, with the hub's database on PostgreSQL.

Sharing touches most of JupyterHub's ORM that a project uses (users, groups and their
properties, roles, shares, share codes, tokens, OAuth clients) and revokes rows in bulk
when memberships change: what differs first between SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.postgres import postgres, reuse_module  # noqa: F401 (fixture)

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module", autouse=True)
def hub_database(postgres):  # noqa: F811
    """MockHub takes its database from $JUPYTERHUB_TEST_DB_URL (jupyterhub.tests.mocking)."""
    before = os.environ.get("JUPYTERHUB_TEST_DB_URL")
    os.environ["JUPYTERHUB_TEST_DB_URL"] = postgres.new_database("sharing")
    yield os.environ["JUPYTERHUB_TEST_DB_URL"]
    if before is None:
        os.environ.pop("JUPYTERHUB_TEST_DB_URL", None)
    else:
        os.environ["JUPYTERHUB_TEST_DB_URL"] = before


def test_the_hub_runs_on_postgresql(hub, hub_database):
    assert str(hub.db.get_bind().url).startswith("postgresql")
    assert hub.db_url == hub_database


reuse_module(Path(__file__).with_name("test_sharing_hub.py"), globals())
