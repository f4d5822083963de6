"""Spawner mixin: a server's image, limits and mounts come from its project, never from the user.

Independent of the spawner class: `HDSDockerSpawner` mixes it into DockerSpawner, and a
SwarmSpawner variant can do the same. Inheriting `ProjectSettings`, `Plans` and `Quotas`
makes `jupyterhub --help-all` document their settings and lets `c.ProjectSettings.*`,
`c.Plans.*` and `c.Quotas.*` configure the spawner.
"""

from __future__ import annotations

import asyncio
from datetime import date

from jupyterhub import orm
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import maybe_future

from hds_quota.admission import QuotaRefused
from hds_quota.plans import Plans
from hds_quota.settings import Quotas
from hds_quota.spawn import ServerQuota

from . import events
from .projects import Project, ProjectRefused, ProjectSettings, project_for_server
from .storage import ProjectStorage


class ProjectSpawnerMixin(ProjectSettings, Plans, Quotas):
    """Resolve the server's project before anything starts, and refuse clearly when it cannot."""

    project: Project | None = None
    _quota: ServerQuota | None = None

    @property
    def quota(self) -> ServerQuota:
        """This server's plan limits, storage volume, usage records and compute watch."""
        if self._quota is None:
            self._quota = ServerQuota(self)
        return self._quota

    def resolve_project(self, today: date | None = None) -> Project:
        """This server's project, checked against the owner's membership; or ProjectRefused."""
        group = orm.Group.find(self.user.db, self.name) if self.name else None
        member = group is not None and group in self.user.orm_user.groups
        properties = dict(group.properties or {}) if group is not None else None
        return project_for_server(self, self.name, properties, member, self, today or date.today())

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
        try:
            self.project = self.resolve_project()
            await self.quota.admit(self.project)  # plan limits; mounts the project's volume
        except (ProjectRefused, QuotaRefused) as refused:
            events.emit(
                "server.refused",
                actor=self.user.name,
                outcome="refused",
                project=self.name or None,
                target=f"{self.user.name}/{self.name}",
                details={"reason": refused.reason, "why": refused.why, "fix": refused.fix},
            )
            raise SpawnException(str(refused), reason=refused.reason, status_code=403) from None
        storage = ProjectStorage.for_member(
            self.storage_root, self.project.name, self.member_slug()
        )
        await asyncio.to_thread(storage.ensure, self.uid, self.gid)
        self.apply_project(self.project, storage)
        try:
            return await super().start()
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
        async for event in super().progress():
            yield event

    def start_polling(self):
        super().start_polling()
        self.quota.watch()

    def stop_polling(self):
        self.quota.unwatch()
        super().stop_polling()

    async def run_post_stop_hook(self):
        # Runs after every stop, including a failed or refused start and a crash.
        await self.quota.stopped()
        return await maybe_future(super().run_post_stop_hook())

    def apply_project(self, project: Project, storage: ProjectStorage) -> None:
        """Set the spawner-class-specific settings (image, limits, mounts, network)."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply_project")
