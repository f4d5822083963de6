"""Spawner mixin: a server's image, limits and mounts come from its project, never from the user.

Independent of the spawner class: `HDSDockerSpawner` mixes it into DockerSpawner, and a
SwarmSpawner variant can do the same. It composes the settings it needs (`Deployment`,
`Plans`, `Quotas`, `ProjectSettings`, configured as `c.<Class>.<setting>`) with the
spawner as their parent, and asks the policy core whether the server may start.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from jupyterhub import orm
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import maybe_future

from hds_quota.plans import Plans
from hds_quota.settings import Quotas

from .. import events
from ..deployment import Deployment
from ..policy.access import ProjectFacts, startable_project
from ..policy.projects import Project, ProjectRules, ProjectSettings
from ..policy.refusal import Refused
from .quota import ServerQuota
from .storage import ProjectStorage


def group_facts(db, name: str) -> ProjectFacts | None:
    """The hub group `name` as the policy core reads it (None when there is none)."""
    group = orm.Group.find(db, name) if name else None
    if group is None:
        return None
    return ProjectFacts.of(group.name, group.properties, [u.name for u in group.users])


class ProjectSpawnerMixin:
    """Resolve the server's project before anything starts, and refuse clearly when it cannot."""

    project: Project | None = None
    # Why the server ended, for the usage ledger: a subclass that sees it exit says so.
    exit_reason = "stopped"

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
        try:
            self.project = self.resolve_project()
            members = len(group_facts(self.user.db, self.name).members)  # type: ignore[union-attr]
            await self.quota.admit(self.project, members)
        except Refused as refused:
            events.emit(
                "server.refused",
                actor=self.user.name,
                outcome="refused",
                project=self.name or None,
                target=f"{self.user.name}/{self.name}",
                details=refused.details(),
            )
            raise SpawnException(str(refused), reason=refused.reason, status_code=403) from None
        storage = ProjectStorage.for_member(
            self.deployment.projects, self.project.name, self.member_slug()
        )
        settings = self.project_settings
        await asyncio.to_thread(storage.ensure, settings.uid, settings.gid)
        self.apply_project(self.project, storage)
        try:
            return await super().start()  # type: ignore[misc]
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

    async def progress(self):
        if self.quota.notice:
            yield {"message": self.quota.notice}
        async for event in super().progress():  # type: ignore[misc]
            yield event

    async def run_post_stop_hook(self):
        # Runs after every stop, including a failed or refused start and a crash.
        await self.quota.stopped(self.exit_reason)
        return await maybe_future(super().run_post_stop_hook())  # type: ignore[misc]

    def apply_project(self, project: Project, storage: ProjectStorage) -> None:
        """Set the spawner-class-specific settings (image, limits, mounts, network)."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply_project")
