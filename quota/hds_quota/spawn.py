"""The hub side of a project server's quotas: admission, storage volume, ledger, compute watch.

The project spawner mixin (jupyter_hds.project_spawner) holds one `ServerQuota` and calls it
at each step of the server's life: `admit` before the container exists, `watch` while it
runs (JupyterHub's polling), `stopped` after it stops (whatever stopped it). Everything here
runs in the hub process, on its event loop; blocking work goes to threads.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, ClassVar

from jupyterhub import orm
from tornado.ioloop import PeriodicCallback

from jupyter_hds import events

from .admission import Occupancy, QuotaRefused, check, hours, storage_refused
from .ledger import Ledger, project_seen, server_started, server_stopped, utcnow
from .plans import Plan
from .usage import Month, Usage, gib
from .volumes import ProjectVolumes, StorageError, VolumeTooSmall, VolumeUsage

if TYPE_CHECKING:
    from jupyter_hds.projects import Project


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

    async def used(self, project: str) -> tuple[float, Month]:
        month = Month.of(utcnow())
        async with self._lock:
            if month != self._month or time.monotonic() - self._at >= self.max_age:
                self._values = await asyncio.to_thread(self.usage.cpu_hours_by_project, month)
                self._month, self._at = month, time.monotonic()
        return self._values.get(project, 0.0), month


class ServerQuota:
    """Quotas for one project server (one spawner)."""

    # Per hub process: servers admitted and not yet stopped, by project (the running-servers
    # count is taken and the server registered without yielding, so two starts cannot both
    # take the last place); one lock per project's volume; last storage sample per project.
    _admitted: ClassVar[dict[str, set[str]]] = {}
    _locks: ClassVar[dict[tuple[str, int], asyncio.Lock]] = {}
    _sampled: ClassVar[dict[str, float]] = {}

    def __init__(self, spawner: Any):
        self.spawner = spawner
        self.volumes = ProjectVolumes(
            spawner.volumes_root, spawner.storage_root, spawner.preallocate
        )
        self.ledger = Ledger(spawner.usage_dir)
        self.usage = Usage(self.ledger)
        # True once this server's start is in the ledger; False when it was refused before;
        # None when unknown (the server was running before the hub restarted).
        self.recorded: bool | None = None
        self.stop_reason = "stopped"
        self.notice = ""
        self._watch: PeriodicCallback | None = None

    @property
    def meter(self) -> ComputeMeter:
        return ComputeMeter.shared(self.usage, self.spawner.compute_check_interval)

    @property
    def key(self) -> str:
        return f"{self.spawner.user.name}/{self.spawner.name}"

    # -- at spawn -------------------------------------------------------------------------

    async def admit(self, project: Project) -> VolumeUsage:
        """Check the plan's limits and mount the project's volume; raise QuotaRefused."""
        self.recorded, plan, name = False, project.plan, project.name
        members = self._members(name)
        running = len(self._running_others(name))
        check(name, plan, Occupancy(running, members, 0.0, None, Month.of(utcnow())))
        admitted = self._admitted.setdefault(name, set())
        admitted.add(self.key)  # in the same step as the count above
        try:
            used, month = await self.meter.used(name)
            check(name, plan, Occupancy(running, members, used, None, month))
            volume = await self._mount(name, plan)
            check(name, plan, Occupancy(running, members, used, volume.used, month))
            record = server_started(
                plan, name, self.spawner.user.name, members, volume.used, project.image
            )
            await asyncio.to_thread(self.ledger.append, record)
        except BaseException:
            admitted.discard(self.key)
            raise
        self.recorded = True
        self.notice = (
            f"Project {name}: {hours(used)} of {hours(plan.cpu_hours_month)} CPU-hours used "
            f"in {month} ({plan.name} plan); this server counts {plan.cpu:g} CPU-hours per "
            f"hour and stops when the project's compute runs out. Storage: "
            f"{gib(volume.used)} of {gib(plan.storage)}."
        )
        return volume

    def _members(self, project: str) -> int:
        group = orm.Group.find(self.spawner.user.db, project)
        return len(group.users) if group is not None else 0

    def _spawners(self, project: str) -> list[Any]:
        """Other users' spawners for `project` that this hub has loaded (all active ones)."""
        users = self.spawner.user.settings.get("users") or {}
        found = []
        for user in list(users.values()):
            spawner = dict.get(user.spawners, project)  # never creates one
            if spawner is not None and spawner is not self.spawner:
                found.append(spawner)
        return found

    def _running_others(self, project: str) -> set[str]:
        ready = {f"{s.user.name}/{s.name}" for s in self._spawners(project) if s.ready}
        return (ready | self._admitted.get(project, set())) - {self.key}

    def _in_use_by_others(self, project: str) -> bool:
        return bool(self._running_others(project)) or any(s.active for s in self._spawners(project))

    def _lock(self, project: str) -> asyncio.Lock:
        key = (project, id(asyncio.get_running_loop()))
        return self._locks.setdefault(key, asyncio.Lock())

    async def _mount(self, project: str, plan: Plan) -> VolumeUsage:
        async with self._lock(project):
            in_use = self._in_use_by_others(project)
            try:
                return await asyncio.to_thread(self.volumes.ensure, project, plan.storage, in_use)
            except VolumeTooSmall as error:
                raise storage_refused(project, plan, error.used) from None
            except (StorageError, OSError) as error:
                self.spawner.log.error("storage of project %s: %s", project, error)
                raise QuotaRefused(
                    project, "storage-unavailable", "its storage could not be made ready",
                    "An administrator must check the hub's log (storage of project "
                    f"{project})",
                ) from None  # fmt: skip

    # -- after stop -----------------------------------------------------------------------

    async def stopped(self) -> None:
        """Record the stop in the ledger and unmount the volume when no server uses it."""
        project, user = self.spawner.name, self.spawner.user.name
        if not project:
            return
        self._admitted.get(project, set()).discard(self.key)
        try:
            if self.recorded or (
                self.recorded is None and await asyncio.to_thread(self.usage.is_open, project, user)
            ):
                used = await asyncio.to_thread(self._storage_used, project)
                record = server_stopped(project, user, self.stop_reason, used)
                await asyncio.to_thread(self.ledger.append, record)
        finally:
            self.recorded, self.stop_reason = None, "stopped"
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
            if self._in_use_by_others(project):
                return
            try:
                await asyncio.to_thread(self.volumes.unmount, project)
            except (StorageError, OSError) as error:
                self.spawner.log.error("could not unmount the volume of %s: %s", project, error)

    # -- while running --------------------------------------------------------------------

    def watch(self) -> None:
        """Check the project's compute (and sample its storage) periodically while it runs."""
        self.unwatch()
        interval = 1000 * self.spawner.compute_check_interval
        self._watch = PeriodicCallback(self.check_running, interval, jitter=0.1)
        self._watch.start()

    def unwatch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    async def check_running(self) -> None:
        """Stop this server when its project's monthly compute is used up."""
        spawner = self.spawner
        if spawner.pending or not spawner.ready:
            return
        try:
            project = spawner.resolve_project()
        except Exception as error:  # the project guard stops servers of invalid projects
            spawner.log.debug("compute check of %s skipped: %s", self.key, error)
            return
        plan = project.plan
        used, month = await self.meter.used(project.name)
        await self._sample(project.name, plan)
        # Stopped or stopping meanwhile (by its user, an admin, the culler): nothing to do.
        if used >= plan.cpu_hours_month and not spawner.pending and spawner.ready:
            await self.stop_for_compute(project.name, plan, used, month)

    async def _sample(self, project: str, plan: Plan) -> None:
        last = self._sampled.get(project, float("-inf"))
        if time.monotonic() - last < self.spawner.storage_sample_interval:
            return
        self._sampled[project] = time.monotonic()
        used = await asyncio.to_thread(self._storage_used, project)
        record = project_seen(plan, project, self._members(project), used)
        await asyncio.to_thread(self.ledger.append, record)

    async def stop_for_compute(self, project: str, plan: Plan, used: float, month: Month) -> None:
        """Stop the server the way the hub stops one that ended, and say why."""
        spawner, user = self.spawner, self.spawner.user
        spawner.log.warning(
            "stopping %s: project %s used %s of its %s CPU-hours in %s",
            self.key, project, hours(used), hours(plan.cpu_hours_month), month,
        )  # fmt: skip
        events.emit(
            "quota.stopped",
            actor="service:jupyterhub",
            outcome="succeeded",
            project=project,
            target=self.key,
            details={
                "reason": "quota-compute", "plan": plan.name, "month": str(month),
                "cpu_hours_used": round(used, 4), "cpu_hours_month": plan.cpu_hours_month,
            },
        )  # fmt: skip
        await user.settings["proxy"].delete_user(user, spawner.name)
        self.stop_reason = "quota-compute"
        await user.stop(spawner.name)
        eventlog = user.settings.get("eventlog")
        if eventlog is not None:
            data = {"action": "stop", "username": user.name, "servername": spawner.name}
            eventlog.emit(schema_id=events.SERVER_ACTIONS_SCHEMA, data=data)
