"""Helpers for the in-process hub tier (JupyterHub's MockHub)."""

from __future__ import annotations

from jupyterhub import orm
from jupyterhub.tests.utils import add_user


def make_group_project(hub, name, members, plan="public", **properties):
    """A project group in the in-process hub's database, with these members (created if new)."""
    group = orm.Group.find(hub.db, name) or orm.Group(name=name)
    group.properties = {"plan": plan, "dataset": "cohort", **properties}
    hub.db.add(group)
    group.users = [add_user(hub.db, hub, name=m).orm_user for m in members]
    hub.db.commit()
    return group
