"""The hub home page's project list: a user's projects, what each plan allows and how much is used.

For each project: its state or what is wrong, and three gauges against its plan: storage
(the project's volume), compute this month (the usage ledger) and servers running (the
hub's database); plus the end of access. The page warns when access ends within
`ENDING_SOON_DAYS` days or compute passes `HIGH_PERCENT` of the month's budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from jupyterhub import orm
from sqlalchemy import func

from hds_quota.ledger import Ledger, utcnow
from hds_quota.plans import Plan, Plans
from hds_quota.usage import Month, Usage
from hds_quota.volumes import ProjectVolumes, StorageError

from ..deployment import Deployment
from ..policy.access import ProjectFacts, project_refusal
from ..policy.projects import ProjectRules, ProjectSettings, is_project
from ..policy.refusal import Refused

TEMPLATES = str(Path(__file__).parent / "templates")
ENDING_SOON_DAYS = 14
HIGH_PERCENT = 80


@dataclass(frozen=True)
class Gauge:
    """One of a plan's limits and how much of it is used."""

    used: float
    limit: float

    @property
    def percent(self) -> int:
        return round(100 * self.used / self.limit) if self.limit > 0 else 100

    @property
    def width(self) -> int:
        """The bar's width in percent (a bar never overflows its frame)."""
        return min(self.percent, 100)

    @property
    def level(self) -> str:
        """`ok`, `high` (at HIGH_PERCENT or more) or `full` (at the limit or past it)."""
        if self.used >= self.limit:
            return "full"
        return "high" if self.percent >= HIGH_PERCENT else "ok"


@dataclass(frozen=True)
class ProjectRow:
    name: str
    description: str
    plan: str
    expires: str
    problem: str  # empty when the project can start (English; `refusal` to translate)
    refusal: Refused | None
    active: bool
    ready: bool
    url: str
    limits: Plan | None = None  # None when the plan is unknown
    members: int = 0
    ends_in: int | None = None  # days until access ends; None: no end date
    running: Gauge | None = None
    compute: Gauge | None = None
    storage: Gauge | None = None  # a project with no volume yet uses 0

    @property
    def ending_soon(self) -> bool:
        return self.ends_in is not None and 0 <= self.ends_in <= ENDING_SOON_DAYS

    @property
    def compute_high(self) -> bool:
        return self.compute is not None and self.compute.percent >= HIGH_PERCENT


def project_rows_for(user) -> Callable[[], Coroutine[Any, Any, list[ProjectRow]]]:
    """The `template_vars` entry: JupyterHub calls it for every page it renders, and only the
    home page calls what it returns, so the rows are built for that page alone."""
    return partial(home_rows, user)


def _rules(config) -> ProjectRules:
    return ProjectRules(
        Plans(config=config), ProjectSettings(config=config), Deployment(config=config).datasets
    )


def project_rows(user, today: date | None = None) -> list[ProjectRow]:
    """One row per project group `user` is in, sorted by name (no usage figures)."""
    if user is None:
        return []
    rules, today = _rules(user.settings.get("config")), today or date.today()
    rows = []
    for group in sorted(user.orm_user.groups, key=lambda g: g.name):
        properties = dict(group.properties or {})
        if not is_project(properties):
            continue
        facts = ProjectFacts.of(group.name, properties, [u.name for u in group.users])
        refused = project_refusal(rules, user.name, group.name, facts, today)
        spawner = user.spawners[group.name] if group.name in user.orm_spawners else None
        rows.append(
            ProjectRow(
                name=group.name,
                description=str(properties.get("description", "")),
                plan=str(properties.get("plan", "")),
                expires=str(properties.get("expires", "")),
                problem=str(refused) if refused else "",
                refusal=refused,
                active=bool(spawner and spawner.active),
                ready=bool(spawner and spawner.ready),
                url=user.server_url(group.name),
                limits=_plan(rules, properties),
                members=len(facts.members),
                ends_in=_days_left(properties, today),
            )
        )
    return rows


async def home_rows(user, today: date | None = None) -> list[ProjectRow]:
    """`project_rows` with each plan's gauges: servers running from the hub's database,
    storage and compute this month read in a thread (one ledger scan for the page)."""
    rows = project_rows(user, today)
    if not rows:
        return rows
    names = [row.name for row in rows]
    running = dict(
        user.db.query(orm.Spawner.name, func.count(orm.Spawner.id))
        .filter(orm.Spawner.name.in_(names), orm.Spawner.server_id.isnot(None))
        .group_by(orm.Spawner.name)
        .all()
    )
    deployment = Deployment(config=user.settings.get("config"))
    storage, cpu = await asyncio.to_thread(measures, deployment, names)
    return [_with_gauges(row, running, storage, cpu) for row in rows]


def measures(
    deployment: Deployment, names: list[str]
) -> tuple[dict[str, int | None], dict[str, float]]:
    """Bytes used in each project's volume (None: no volume yet, or unreadable) and CPU-hours
    used this month by every project."""
    volumes = ProjectVolumes(deployment.volumes, deployment.projects)
    storage: dict[str, int | None] = {}
    for name in names:
        try:
            usage = volumes.usage(name)
        except (StorageError, OSError):
            usage = None
        storage[name] = usage.used if usage else None
    cpu = Usage(Ledger(deployment.usage)).cpu_hours_by_project(Month.of(utcnow()))
    return storage, cpu


def _with_gauges(row: ProjectRow, running, storage, cpu) -> ProjectRow:
    plan = row.limits
    if plan is None:
        return row
    return replace(
        row,
        running=Gauge(running.get(row.name, 0), plan.running_servers),
        compute=Gauge(round(cpu.get(row.name, 0.0), 2), plan.cpu_hours_month),
        storage=Gauge(storage.get(row.name) or 0, plan.storage),
    )


def _plan(rules: ProjectRules, properties: dict[str, Any]) -> Plan | None:
    try:
        return rules.plans.get(str(properties.get("plan", "")))
    except ValueError:
        return None


def _days_left(properties: dict[str, Any], today: date) -> int | None:
    try:
        ends = date.fromisoformat(str(properties.get("expires") or ""))
    except ValueError:
        return None
    return (ends - today).days
