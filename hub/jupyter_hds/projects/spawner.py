"""Spawner mixin: a server's image, limits and mounts come from its project, never from the user.

Independent of the spawner class: `HDSDockerSpawner` mixes it into DockerSpawner, and a
SwarmSpawner variant can do the same. It composes the settings it needs (`Deployment`,
`Plans`, `Quotas`, `ProjectSettings`, configured as `c.<Class>.<setting>`) with the
spawner as their parent, and asks the policy core whether the server may start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any
from urllib.parse import quote

from jupyterhub import orm
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import maybe_future, url_path_join
from traitlets import HasTraits, default

from hds_quota.admission import hours
from hds_quota.plans import Plans
from hds_quota.settings import Quotas
from hds_quota.volumes import VolumeUsage

from .. import events, i18n
from ..audit import served
from ..branding import Branding
from ..deployment import Deployment
from ..policy.access import ProjectFacts, startable_project
from ..policy.projects import Project, ProjectRules, ProjectSettings
from ..policy.refusal import Refused
from ..policy.text import Text
from ..terms.check import PAGE as TERMS_PAGE
from ..terms.check import TermsInForce
from ..terms.store import Acceptances
from .answering import until_answering
from .quota import ServerQuota
from .storage import ProjectStorage

# A spawn's steps as the spawn page shows them (JupyterHub's progress API): how far along,
# and the sentence, in the language of the person who asked for the server.
Step = tuple[int, Callable[[i18n.Language], Text]]


def group_facts(db, name: str) -> ProjectFacts | None:
    """The hub group `name` as the policy core reads it (None when there is none)."""
    group = orm.Group.find(db, name) if name else None
    if group is None:
        return None
    return ProjectFacts.of(group.name, group.properties, [u.name for u in group.users])


class ProjectSpawnerMixin(HasTraits):
    """Resolve the server's project before anything starts, and refuse clearly when it cannot."""

    project: Project | None = None
    # Why the server ended, for the usage ledger: a subclass that sees it exit says so.
    exit_reason = "stopped"

    # Until a start sets them: English, no steps, no link to the terms.
    reader = i18n.language(i18n.DEFAULT)
    steps: list[Step] = []  # noqa: RUF012 (never changed: start() sets the instance's own)
    terms_url = ""

    @default("progress_ready_hook")
    def _default_progress_ready_hook(self):
        return _server_answering

    def _setting(self, cls: type) -> Any:
        """One instance per spawner of a settings class, configured with the hub's config."""
        parts = self.__dict__.setdefault("_hds_settings", {})
        if cls not in parts:
            parts[cls] = cls(parent=self)
        return parts[cls]

    @property
    def deployment(self) -> Deployment:
        return self._setting(Deployment)

    @property
    def plans(self) -> Plans:
        return self._setting(Plans)

    @property
    def quotas(self) -> Quotas:
        return self._setting(Quotas)

    @property
    def project_settings(self) -> ProjectSettings:
        return self._setting(ProjectSettings)

    @property
    def quota(self) -> ServerQuota:
        """This server's plan admission, storage volume and usage records."""
        if "_hds_quota" not in self.__dict__:
            self.__dict__["_hds_quota"] = ServerQuota(self)
        return self.__dict__["_hds_quota"]

    def rules(self) -> ProjectRules:
        return ProjectRules(self.plans, self.project_settings, self.deployment.datasets)

    def resolve_project(self, today: date | None = None) -> Project:
        """This server's project, checked against the owner's membership; or Refused."""
        facts = group_facts(self.user.db, self.name)
        today = today or date.today()
        return startable_project(self.rules(), self.user.name, self.name, facts, today)

    def member_slug(self) -> str:
        """The owner's name as a safe folder name (subclasses may escape differently)."""
        return self.user.name

    async def start(self):
        if self.user_options:
            # Image, limits and mounts come from the project, never from the request.
            self.log.warning(
                "Ignoring user options %s for %s", sorted(self.user_options), self._log_name
            )
            self.user_options = {}
        self.exit_reason = "stopped"
        # The person who asked (JupyterHub hands the spawner their request while it starts).
        self.reader = i18n.for_request(getattr(self.handler, "request", None))
        self.steps: list[Step] = []
        try:
            self.project = self.resolve_project()
            self.check_terms()
            self.record_step("project")
            members = len(group_facts(self.user.db, self.name).members)  # type: ignore[union-attr]
            volume = await self.quota.admit(self.project, members)
        except Refused as refused:
            events.emit(
                "server.refused",
                actor=self.user.name,
                outcome="refused",
                project=self.name or None,
                target=f"{self.user.name}/{self.name}",
                details=refused.details(),
            )
            raise self.spawn_refusal(refused) from None
        storage = ProjectStorage.for_member(
            self.deployment.projects, self.project.name, self.member_slug()
        )
        await self.prepare_storage(storage)
        used, month = await self.quota.meter.used(self.project.name)
        self.record_step("storage", volume=volume, used=used, month=month)
        self.apply_project(self.project, storage)
        # The data guard's daily browser budget (docs/data-guard.md), for every spawner: the
        # plan's limit, and what each member was already sent today, from the audit record.
        self.environment = {
            **self.environment,
            **served.budget_environment(
                self.deployment.audit, self.project.name, self.project.plan.browser_bytes_day
            ),
        }
        try:
            began = asyncio.get_running_loop().time()
            started = await super().start()  # type: ignore[misc]
            self.record_step("started")
            await self.wait_answering(started, began)
            return started
        except BaseException as error:  # a timeout cancels the start: record that too
            events.emit(
                "server.started",
                actor="service:jupyterhub",
                outcome="failed",
                project=self.project.name,
                target=f"{self.user.name}/{self.name}",
                details={"error": f"{type(error).__name__}: {error}"[:500]},
            )
            raise

    async def wait_answering(self, started: Any, began: float) -> None:
        """Poll the new server every 50 ms until it answers (`answering`), within the hub's
        `http_timeout` and what is left of its `start_timeout`; the hub's own wait follows."""
        if self.internal_ssl or not isinstance(started, tuple):
            return  # the hub's own wait alone (its certificates; a URL we do not parse)
        ip, port = started
        url = url_path_join(f"http://{ip}:{port}", self.server.base_url, "api")
        left = self.start_timeout - (asyncio.get_running_loop().time() - began) - 5

        async def alive() -> bool:
            return await self.poll() is None

        await until_answering(url, max(0.0, min(self.http_timeout, left)), alive)

    def check_terms(self) -> None:
        """Refuse a start until the owner accepted the terms of use in force (if any)."""
        terms = TermsInForce(
            self._setting(Branding).terms(), Acceptances(self.deployment.terms_acceptances)
        )
        due = terms.pending(self.user.name)
        if due is None:
            return
        again = f"{self.hub.base_url}spawn/{quote(self.user.name)}/{quote(self.name)}"
        self.terms_url = f"{self.hub.base_url}{TERMS_PAGE}?next={quote(again, safe='')}"
        raise Refused(
            "terms-not-accepted",
            Text("Accept the terms of use (version {version}) before starting a server.",
                 version=due.version),
            Text("Read and accept them at {url}", url=self.terms_url),
        )  # fmt: skip

    def spawn_refusal(self, refused: Refused) -> SpawnException:
        """The refusal as JupyterHub shows it, in the language of the person who asked."""
        message = self.reader.translate(refused)
        html = escape(message)
        if refused.reason == "terms-not-accepted":  # the address as a link, not as text
            why = escape(self.reader.translate(refused.message_text))
            link = escape(self.reader.gettext("Read the terms of use"))
            html = f'{why} <a href="{escape(self.terms_url)}" id="hds-terms-link">{link}</a>'
        return SpawnException(
            message, reason=refused.reason, status_code=refused.status, message_html=html,
            log_message=str(refused),
        )  # fmt: skip

    def record_step(self, step: str, **values: Any) -> None:
        """Record that the start reached `step` (a key of STEPS), for the spawn page."""
        percent, sentence = STEPS[step]
        project = self.project
        assert project is not None
        self.steps.append((percent, lambda language: sentence(language, project, values)))
        changed, self._steps_changed = self._step_event(), asyncio.Event()
        changed.set()

    def _step_event(self) -> asyncio.Event:
        if "_steps_changed" not in self.__dict__:
            self._steps_changed = asyncio.Event()
        return self._steps_changed

    async def progress(self):
        """The steps of the start so far, then each next one until the start is over (then
        JupyterHub shows the server answering, through `progress_ready_hook`)."""
        sent = 0
        while True:
            changed = self._step_event()
            steps = self.steps
            while sent < len(steps):
                percent, sentence = steps[sent]
                sent += 1
                yield {"progress": percent, "message": self.reader.translate(sentence(self.reader))}
            if self.pending != "spawn":
                return
            try:
                await asyncio.wait_for(changed.wait(), timeout=1)
            except TimeoutError:
                continue

    async def run_post_stop_hook(self):
        # Runs after every stop, including a failed or refused start and a crash.
        await self.quota.stopped(self.exit_reason)
        return await maybe_future(super().run_post_stop_hook())  # type: ignore[misc]

    async def prepare_storage(self, storage: ProjectStorage) -> None:
        """Make the member's folders in the project's volume, owned by the servers' ids (on
        the hub's host; a spawner whose volumes live on other nodes has them made there)."""
        settings = self.project_settings
        await asyncio.to_thread(storage.ensure, settings.uid, settings.gid)

    def apply_project(self, project: Project, storage: ProjectStorage) -> None:
        """Set the spawner-class-specific settings (image, limits, mounts, network)."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply_project")


def _storage_step(language: i18n.Language, project: Project, values: dict[str, Any]) -> Text:
    volume: VolumeUsage = values["volume"]
    return Text(
        "Storage ready: {used} of {size} used. Compute in {month}: {hours} of {budget} "
        "CPU-hours; this server counts {cpu} CPU-hours per hour.",
        used=language.size(volume.used), size=language.size(project.plan.storage),
        month=values["month"], hours=language.figure(hours(values["used"])),
        budget=language.figure(hours(project.plan.cpu_hours_month)),
        cpu=language.number(project.plan.cpu),
    )  # fmt: skip


STEPS: dict[str, tuple[int, Callable[[i18n.Language, Project, dict[str, Any]], Text]]] = {
    "project": (10, lambda language, project, values: Text(
        "Project {project} checked: you are a member, its settings are valid (plan {plan}).",
        project=project.name, plan=project.plan.name)),
    "storage": (30, _storage_step),
    "network": (50, lambda language, project, values: Text(
        "Network ready: the project's own network, with no way out to the internet.")),
    "container": (70, lambda language, project, values: Text(
        "Container created: {cpu} CPU and {memory} of memory, from the plan {plan}.",
        cpu=language.number(project.plan.cpu), memory=language.size(project.plan.memory),
        plan=project.plan.name)),
    "started": (90, lambda language, project, values: Text(
        "Container started: waiting for the server to answer.")),
}  # fmt: skip


def _server_answering(spawner: Any, event: dict[str, Any]) -> dict[str, Any]:
    """JupyterHub's last event, once the server answers, in the reader's language."""
    reader = getattr(spawner, "reader", None) or i18n.language(i18n.DEFAULT)
    message = reader.gettext("Server answering: opening JupyterLab.")
    url = escape(event.get("url", ""))
    html = f'{escape(message)} <a href="{url}">{url}</a>'
    return {**event, "message": message, "html_message": html}
