"""The hosting team's projects overview and "New project" form, on the hub's own pages.

`/hub/hds/projects` lists every project with its plan, members, servers running, storage,
compute this month, dataset, end date and problems; `/hub/hds/projects/new` makes a project
(the same group and properties the admin panel edits, checked by `projects.validation` when
written). Both are for holders of `admin:groups` (the hosting team).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from jupyterhub import orm
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.utils import maybe_future
from tornado import web

from hds_quota.ledger import Ledger, utcnow
from hds_quota.plans import Plan, Plans
from hds_quota.usage import Month, Usage, gib
from hds_quota.volumes import ProjectVolumes, StorageError

from .. import events, i18n
from ..audit.hub import client_address
from ..deployment import Deployment
from ..policy.access import ProjectFacts, project_problem
from ..policy.projects import PROJECT_NAME, ProjectRules, ProjectSettings, is_project
from ..policy.refusal import Refused
from ..terms.check import TermsInForce
from .validation import Change, ProjectWrites

ADMIN_SCOPE = "admin:groups"
COLUMNS = {
    "name": "Project", "plan": "Plan", "members": "Members", "running": "Servers running",
    "storage_used": "Storage", "cpu_used": "CPU-hours this month", "dataset": "Dataset",
    "expires": "Access until", "problem": "Problems",
}  # fmt: skip


@dataclass(frozen=True)
class ProjectRow:
    """One project at a glance (limits are its plan's; None when the plan is unknown)."""

    name: str
    plan: str
    members: int
    members_limit: int | None
    running: int
    storage_used: int | None
    storage_limit: int | None
    cpu_used: float
    cpu_budget: float | None
    dataset: str
    expires: str
    problem: str
    description: str


def overview_rows(
    projects: list[ProjectFacts], rules: ProjectRules, running: dict[str, int],
    storage: dict[str, int | None], cpu: dict[str, float], today: date,
) -> list[ProjectRow]:  # fmt: skip
    """One row per project, from what the hub, the volumes and the ledger say."""
    rows = []
    for facts in projects:
        properties = facts.properties
        plan: Plan | None
        try:
            plan = rules.plans.get(str(properties.get("plan", "")))
        except ValueError:
            plan = None
        rows.append(
            ProjectRow(
                name=facts.name,
                plan=str(properties.get("plan", "")),
                members=len(facts.members),
                members_limit=plan.members if plan else None,
                running=running.get(facts.name, 0),
                storage_used=storage.get(facts.name),
                storage_limit=plan.storage if plan else None,
                cpu_used=round(cpu.get(facts.name, 0.0), 2),
                cpu_budget=plan.cpu_hours_month if plan else None,
                dataset=str(properties.get("dataset", "")),
                expires=str(properties.get("expires", "")),
                problem=project_problem(rules, None, facts.name, facts, today),
                description=str(properties.get("description", "")),
            )
        )
    return rows


def sort_rows(rows: list[ProjectRow], column: str, descending: bool) -> list[ProjectRow]:
    """Rows ordered by `column` (a COLUMNS key; unknown: by name); missing values last."""
    column = column if column in COLUMNS else "name"

    def key(row: ProjectRow) -> tuple[bool, Any]:
        value = asdict(row)[column]
        return (value in (None, ""), value if value is not None else 0)

    ordered = sorted(rows, key=lambda row: row.name)
    present = [r for r in ordered if not key(r)[0]]
    missing = [r for r in ordered if key(r)[0]]
    return sorted(present, key=key, reverse=descending) + missing


class ProjectsPage(BaseHandler):
    """What the hosting team's pages share: the scope, the rules, the facts."""

    def check_admin(self) -> None:
        if not self.has_scope(ADMIN_SCOPE):
            raise web.HTTPError(403, "The projects overview is for the hosting team.")

    @property
    def deployment(self) -> Deployment:
        return Deployment(config=self.settings["config"])

    def rules(self) -> ProjectRules:
        config = self.settings["config"]
        return ProjectRules(
            Plans(config=config), ProjectSettings(config=config), self.deployment.datasets
        )

    def datasets(self) -> list[str]:
        root = self.deployment.datasets
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


class ProjectsOverviewHandler(ProjectsPage):
    """GET /hub/hds/projects?sort=<column>&order=asc|desc"""

    @web.authenticated
    async def get(self):
        self.check_admin()
        projects = [
            ProjectFacts.of(group.name, group.properties, [u.name for u in group.users])
            for group in self.db.query(orm.Group)
            if is_project(dict(group.properties or {}))
        ]
        running: dict[str, int] = {}
        for spawner in self.db.query(orm.Spawner).filter(orm.Spawner.server_id.isnot(None)):
            running[spawner.name] = running.get(spawner.name, 0) + 1
        names = [p.name for p in projects]
        storage, cpu = await asyncio.to_thread(self._measures, names)
        rows = overview_rows(projects, self.rules(), running, storage, cpu, date.today())
        column, order = self.get_argument("sort", "name"), self.get_argument("order", "asc")
        html = await self.render_template(
            "hds_projects.html",
            rows=sort_rows(rows, column, order == "desc"),
            columns=COLUMNS,
            sort=column,
            order=order,
            month=str(Month.of(utcnow())),
            gib=gib,
            created=self.get_argument("created", ""),
            terms=self._terms(projects),
        )
        self.finish(html)

    def _terms(self, projects: list[ProjectFacts]) -> dict[str, list[str]] | None:
        """Members of each project who have not accepted the terms in force (None: no terms)."""
        terms = TermsInForce.of(self.settings["config"])
        if terms.terms is None:
            return None
        return {p.name: terms.not_accepted(sorted(p.members)) for p in projects}

    def _measures(self, names: list[str]) -> tuple[dict[str, int | None], dict[str, float]]:
        deployment = self.deployment
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


class NewProjectHandler(ProjectsPage):
    """GET: the form; POST: make the group, its properties and members (checked on write)."""

    @web.authenticated
    async def get(self):
        self.check_admin()
        await self._form({}, "")

    @web.authenticated
    async def post(self):
        self.check_admin()
        form = {key: self.get_body_argument(key, "").strip() for key in FIELDS}
        try:
            name, properties, members = self._parse(form)
            await self._create(name, properties, members)
        except ValueError as error:
            self.set_status(400)
            return await self._form(form, str(error))
        except web.HTTPError as error:  # refused by the checks on write
            self.db.rollback()
            self.set_status(error.status_code)
            return await self._form(form, error.log_message or str(error))
        events.emit(
            "project.create",
            actor=self.current_user.name,
            outcome="succeeded",
            project=name,
            target=name,
            source=client_address(self.request),
            details={"properties": properties, "members": members},
        )
        self.redirect(f"{self.hub.base_url}hds/projects?created={name}")

    def _parse(self, form: dict[str, str]) -> tuple[str, dict[str, str], list[str]]:
        name = form["name"]
        if not PROJECT_NAME.match(name):
            raise ValueError(
                f"{name!r} cannot be a project name: lowercase letters, digits and hyphens, "
                "at most 30 characters"
            )
        if orm.Group.find(self.db, name) is not None:
            raise ValueError(f"project {name!r} exists already; change it in the admin panel")
        properties = {k: form[k] for k in ("plan", "dataset", "expires", "description") if form[k]}
        members = sorted({m for m in form["members"].replace(",", " ").split() if m})
        try:  # the checks the hub runs on every write of a project (a dataset may come later)
            ProjectWrites(self.settings["config"]).check(
                name, properties, len(members), Change(properties=True, members_added=True)
            )
        except Refused as refused:
            raise ValueError(i18n.for_request(self.request).translate(refused)) from None
        return name, properties, members

    async def _create(self, name: str, properties: dict[str, str], members: list[str]) -> None:
        invalid = [m for m in members if not self.authenticator.validate_username(m)]
        if invalid:
            raise ValueError(f"not valid user names on this hub: {', '.join(invalid)}")
        users = []
        for member in members:  # new people are made as PUT /hub/api/hds/users makes them
            found = self.find_user(member)
            if found is None:
                found = self.user_from_username(member)
                await maybe_future(self.authenticator.add_user(found))
            users.append(found.orm_user)
        group = orm.Group(name=name, properties=properties)
        group.users = users
        self.db.add(group)
        self.db.commit()

    async def _form(self, form: dict[str, str], error: str) -> None:
        html = await self.render_template(
            "hds_project_new.html",
            form=form,
            error=error,
            plans=self.rules().plans.all(),
            datasets=self.datasets(),
            gib=gib,
        )
        self.finish(html)


FIELDS = ("name", "plan", "dataset", "expires", "description", "members")
HANDLERS = [
    (r"/hds/projects", ProjectsOverviewHandler),
    (r"/hds/projects/new", NewProjectHandler),
]
