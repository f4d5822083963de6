"""Helpers for the in-process hub tier (JupyterHub's MockHub)."""

from __future__ import annotations

from pathlib import Path

from jupyterhub import orm
from jupyterhub.tests.utils import add_user

from .datasets import write_dataset


def make_group_project(hub, name, members, plan="public", **properties):
    """A project group in the in-process hub's database, with these members (created if new).

    Without a `dataset` property, the project gets a dataset of its own name, imported for it
    (in the state folder the test configured: `c.Deployment.state_dir`)."""
    if "dataset" not in properties:
        datasets = Path(hub.config.Deployment.state_dir) / "datasets"
        if not (datasets / name).exists():
            write_dataset(datasets, name)
    group = orm.Group.find(hub.db, name) or orm.Group(name=name)
    group.properties = {"plan": plan, "dataset": name, **properties}
    hub.db.add(group)
    group.users = [add_user(hub.db, hub, name=m).orm_user for m in members]
    hub.db.commit()
    return group
