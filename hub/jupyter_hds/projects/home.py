"""The hub home page's project list: a user's projects, each with its state or what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

from hds_quota.plans import Plans

from ..deployment import Deployment
from ..policy.access import ProjectFacts, project_problem
from ..policy.projects import ProjectRules, ProjectSettings, is_project

TEMPLATES = str(Path(__file__).parent / "templates")


@dataclass(frozen=True)
class ProjectRow:
    name: str
    description: str
    plan: str
    expires: str
    problem: str  # empty when the project can start
    active: bool
    ready: bool
    url: str


def project_rows_for(user) -> Callable[[], list[ProjectRow]]:
    """The `template_vars` entry: JupyterHub calls it for every page it renders, and only the
    home page calls what it returns, so the rows are built for that page alone."""
    return partial(project_rows, user)


def project_rows(user, today: date | None = None) -> list[ProjectRow]:
    """One row per project group `user` is in, sorted by name."""
    if user is None:
        return []
    config = user.settings.get("config")
    rules = ProjectRules(
        Plans(config=config), ProjectSettings(config=config), Deployment(config=config).datasets
    )
    rows = []
    for group in sorted(user.orm_user.groups, key=lambda g: g.name):
        properties = dict(group.properties or {})
        if not is_project(properties):
            continue
        facts = ProjectFacts.of(group.name, properties, [u.name for u in group.users])
        problem = project_problem(rules, user.name, group.name, facts, today or date.today())
        spawner = user.spawners[group.name] if group.name in user.orm_spawners else None
        rows.append(
            ProjectRow(
                name=group.name,
                description=str(properties.get("description", "")),
                plan=str(properties.get("plan", "")),
                expires=str(properties.get("expires", "")),
                problem=problem,
                active=bool(spawner and spawner.active),
                ready=bool(spawner and spawner.ready),
                url=user.server_url(group.name),
            )
        )
    return rows
