"""Spawner mixin: a server's image, limits and mounts come from its project, never from the user.

Independent of the spawner class: `HDSDockerSpawner` mixes it into DockerSpawner, and a
SwarmSpawner variant can do the same. Inheriting `ProjectSettings` and `Plans` makes
`jupyterhub --help-all` document their settings and lets `c.ProjectSettings.*` and
`c.Plans.*` configure the spawner.
"""

from __future__ import annotations

import asyncio
from datetime import date

from jupyterhub import orm
from jupyterhub.spawner import SpawnException

from hds_quota.plans import Plans

from . import events
from .projects import Project, ProjectRefused, ProjectSettings, project_for_server
from .storage import ProjectStorage


class ProjectSpawnerMixin(ProjectSettings, Plans):
    """Resolve the server's project before anything starts, and refuse clearly when it cannot."""

    project: Project | None = None

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
        except ProjectRefused as refused:
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
        return await super().start()

    def apply_project(self, project: Project, storage: ProjectStorage) -> None:
        """Set the spawner-class-specific settings (image, limits, mounts, network)."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply_project")
