"""A project server's quotas in the hub: admission, the project's volume, the usage ledger.

The project spawner holds one `ServerQuota` and calls it twice in the server's life:
`admit` before the container exists (plan limits, volume mounted, start recorded), and
`stopped` after it stops, whatever stopped it (stop recorded, volume released). Limits
while running (compute, idle time) are watched by hub services through the hub's API.
Everything here runs in the hub process, on its event loop; blocking work goes to threads.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from jupyterhub import orm

from hds_quota.admission import Occupancy
from hds_quota.ledger import Ledger, server_started, server_stopped, utcnow
from hds_quota.usage import Month, Usage
from hds_quota.volumes import ProjectVolumes, StorageError, VolumeTooSmall, VolumeUsage

from ..policy.admission import admit, storage_too_small, storage_unavailable

if TYPE_CHECKING:
    from ..policy.projects import Project


# Past this share of a plan's monthly compute, admission reads the ledger afresh.
NEAR_BUDGET = 0.9


class ComputeMeter:
    """Compute used this month by every project: one ledger scan for all of a hub's servers,
    at most once per `max_age` seconds (values lag running servers by as much)."""

    _meters: ClassVar[dict[tuple[str, int], ComputeMeter]] = {}

    def __init__(self, usage: Usage, max_age: float):
        self.usage, self.max_age = usage, max_age
        self._values: dict[str, float] = {}
        self._month: Month | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def shared(cls, usage: Usage, max_age: float) -> ComputeMeter:
        """The meter of this ledger on the running event loop."""
        key = (str(usage.ledger.directory), id(asyncio.get_running_loop()))
        if key not in cls._meters:
            cls._meters[key] = cls(usage, max_age)
        return cls._meters[key]

    async def used(self, project: str, budget: float | None = None) -> tuple[float, Month]:
        """CPU-hours `project` used this month. Read again, whatever the cache's age, when
        the cached figure is near `budget`: a start right after the compute watch stopped
        the project's servers must not be admitted on a figure from before."""
        month = Month.of(utcnow())
        async with self._lock:
            cached = self._values.get(project, 0.0)
            near = budget is not None and cached >= NEAR_BUDGET * budget
            if near or month != self._month or time.monotonic() - self._at >= self.max_age:
                self._values = await asyncio.to_thread(self.usage.cpu_hours_by_project, month)
                self._month, self._at = month, time.monotonic()
        return self._values.get(project, 0.0), month


class ServerQuota:
    """Quotas for one project server (one spawner)."""

    # Per hub process: servers admitted and not yet stopped, by project (the running-servers
    # count is taken and the server registered without yielding, so two starts cannot both
    # take the last place); one lock per project's volume.
    _admitted: ClassVar[dict[str, set[str]]] = {}
    _locks: ClassVar[dict[tuple[str, int], asyncio.Lock]] = {}

    def __init__(self, spawner: Any):
        self.spawner = spawner
        deployment, quotas = spawner.deployment, spawner.quotas
        self.volumes = ProjectVolumes(deployment.volumes, deployment.projects, quotas.preallocate)
        self.ledger = Ledger(deployment.usage)
        self.usage = Usage(self.ledger)
        self.meter_max_age = quotas.compute_check_interval

    @property
    def meter(self) -> ComputeMeter:
        return ComputeMeter.shared(self.usage, self.meter_max_age)

    @property
    def key(self) -> str:
        return f"{self.spawner.user.name}/{self.spawner.name}"

    # -- at spawn -------------------------------------------------------------------------

    async def admit(self, project: Project, members: int) -> VolumeUsage:
        """Check the plan's limits and mount the project's volume; raise Refused."""
        plan, name = project.plan, project.name
        running = len(self._running_others(name))
        admit(project, Occupancy(running, members, 0.0, None, Month.of(utcnow())))
        admitted = self._admitted.setdefault(name, set())
        admitted.add(self.key)  # in the same step as the count above
        try:
            used, month = await self.meter.used(name, plan.cpu_hours_month)
            admit(project, Occupancy(running, members, used, None, month))
            volume = await self._mount(project)
            admit(project, Occupancy(running, members, used, volume.used, month))
            record = server_started(
                plan, name, self.spawner.user.name, members, volume.used, project.image
            )
            await asyncio.to_thread(self.ledger.append, record)
        except BaseException:
            admitted.discard(self.key)
            raise
        return volume

    def _running_others(self, project: str) -> set[str]:
        """Other users' servers of `project` running (the hub's database) or being admitted."""
        db = self.spawner.user.db
        rows = (
            db.query(orm.Spawner)
            .filter(orm.Spawner.name == project, orm.Spawner.server_id.isnot(None))
            .all()
        )
        running = {f"{row.user.name}/{row.name}" for row in rows}
        return (running | self._admitted.get(project, set())) - {self.key}

    def _lock(self, project: str) -> asyncio.Lock:
        key = (project, id(asyncio.get_running_loop()))
        return self._locks.setdefault(key, asyncio.Lock())

    async def _mount(self, project: Project) -> VolumeUsage:
        name = project.name
        async with self._lock(name):
            in_use = bool(self._running_others(name))
            try:
                return await asyncio.to_thread(
                    self.volumes.ensure, name, project.plan.storage, in_use
                )
            except VolumeTooSmall as error:
                raise storage_too_small(project, error.used) from None
            except (StorageError, OSError) as error:
                self.spawner.log.error("storage of project %s: %s", name, error)
                raise storage_unavailable(name) from None

    # -- after stop -----------------------------------------------------------------------

    async def stopped(self, reason: str) -> None:
        """Record the stop (`reason`: stopped, exited) of a server the ledger says runs (not
        of a refused start, nor when the service that stopped it recorded it already), and
        unmount the volume if no other server uses it."""
        project, user = self.spawner.name, self.spawner.user.name
        if not project:
            return
        self._admitted.get(project, set()).discard(self.key)
        try:
            if await asyncio.to_thread(self.usage.is_open, project, user):
                used = await asyncio.to_thread(self._storage_used, project)
                record = server_stopped(project, user, reason, used)
                await asyncio.to_thread(self.ledger.append, record)
        finally:
            await self._release(project)

    def _storage_used(self, project: str) -> int | None:
        try:
            usage = self.volumes.usage(project)
        except (StorageError, OSError) as error:
            self.spawner.log.warning("storage of project %s unreadable: %s", project, error)
            return None
        return usage.used if usage else None

    async def _release(self, project: str) -> None:
        async with self._lock(project):
            if self._running_others(project):
                return
            try:
                await asyncio.to_thread(self.volumes.unmount, project)
            except (StorageError, OSError) as error:
                self.spawner.log.error("could not unmount the volume of %s: %s", project, error)
