"""`hds db migrate`: JupyterHub's tables copied from SQLite into PostgreSQL, refusals that lose nothing."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from jupyterhub import orm
from jupyterhub.roles import create_role, get_default_roles
from sqlalchemy import create_engine

from jupyter_hds import database
from support.postgres import postgres  # noqa: F401 (fixture)


def sqlite_hub(tmp_path):
    """A hub database with a user in a group with properties, a role, a token and a server."""
    url = f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    db = orm.new_session_factory(url)()
    for role in get_default_roles():
        create_role(db, role)
    db.add(orm.OAuthClient(identifier="jupyterhub"))
    group = orm.Group(name="cohort", properties={"plan": "public", "dataset": "cohort"})
    user = orm.User(name="ann", groups=[group])
    role = orm.Role(name="reader", scopes=["read:users"], users=[user])
    server = orm.Server(ip="10.213.0.5", port=8888, base_url="/user/ann/cohort/")
    spawner = orm.Spawner(name="cohort", user=user, server=server, state={"object_id": "abc"})
    db.add_all([group, user, role, server, spawner])
    db.commit()
    token = user.new_api_token(note="cli")
    db.commit()
    db.close()
    return url, token


def test_every_row_is_copied_and_ids_continue(tmp_path, postgres):  # noqa: F811
    url, token = sqlite_hub(tmp_path)
    target = postgres.new_database("migrate")
    copied = {c.table: c.rows for c in database.migrate(url, target)}
    assert copied["users"] == 1 and copied["groups"] == 1 and copied["api_tokens"] == 1
    assert copied["spawners"] == 1 and copied["servers"] == 1
    db = orm.new_session_factory(target)()
    user = orm.User.find(db, "ann")
    assert [g.name for g in user.groups] == ["cohort"]
    assert user.groups[0].properties == {"plan": "public", "dataset": "cohort"}
    assert orm.APIToken.find(db, token).user.name == "ann"
    assert user.orm_spawners["cohort"].state == {"object_id": "abc"}
    assert user.orm_spawners["cohort"].server.ip == "10.213.0.5"
    # The sequences continue after the copied ids: a new row takes the next id.
    newcomer = orm.User(name="bob")
    db.add(newcomer)
    db.commit()
    assert newcomer.id == user.id + 1
    db.close()


def test_a_target_that_holds_data_is_refused_and_kept(tmp_path, postgres):  # noqa: F811
    url, _ = sqlite_hub(tmp_path)
    target = postgres.new_database("full")
    database.migrate(url, target)
    with pytest.raises(database.MigrationError, match="already holds hub data"):
        database.migrate(url, target)
    assert database.count_rows(create_engine(target))["users"] == 1


def test_a_running_hub_is_refused(tmp_path, postgres):  # noqa: F811
    url, _ = sqlite_hub(tmp_path)
    path = url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import time; f = open({path!r}, 'rb'); time.sleep(60)"]
    )
    try:
        deadline = time.monotonic() + 10
        while not database.open_sqlite_holders(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(database.MigrationError, match=f"pid {holder.pid}"):
            database.migrate(url, postgres.new_database("busy"))
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    "case_id, to, message",
    [
        ("sqlite-target", "sqlite:////tmp/x.sqlite", "write a postgresql://"),
        ("no-database", None, "no alembic_version table"),
    ],
)
def test_bad_input_is_refused_with_what_to_write(tmp_path, postgres, case_id, to, message):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    if case_id == "sqlite-target":
        url, _ = sqlite_hub(tmp_path)
    with pytest.raises(database.MigrationError, match=message):
        database.migrate(url, to or postgres.new_database("bad"))
