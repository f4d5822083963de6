"""Idle culling per plan: a decision hook for the standard jupyterhub-idle-culler.

The culler (a hub service, `idle_culler_config.py`) asks `PlanIdleTimeouts` about each
running server: the server's name is its project, the project's `plan` property names its
plan, and the plan says how long the server may sit idle. Plans and projects are read from
the hub's API at most once per `refresh` seconds, so a plan change applies at the next round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from jupyter_hds.hub_api import HubAPI

from .hub_settings import PATH, HubQuotaSettings

log = logging.getLogger("hds_quota.culling")

# Returns (idle timeout by plan name, plan name by project name).
Source = Callable[[], Awaitable[tuple[dict[str, int], dict[str, str]]]]


class PlanIdleTimeouts:
    """`cull_arbiter_hook` for jupyterhub-idle-culler: cull after the project's plan's timeout."""

    def __init__(self, source: Source, refresh: float = 30.0):
        self.source = source
        self.refresh = refresh
        self.timeouts: dict[str, int] = {}
        self.plans: dict[str, str] = {}
        self._fetched = float("-inf")

    def timeout_for(self, project: str) -> int:
        """The idle timeout of `project`'s plan; the shortest when its plan is unknown."""
        shortest = min(self.timeouts.values())
        return self.timeouts.get(self.plans.get(project, ""), shortest)

    async def update(self, max_age: float | None = None) -> None:
        if time.monotonic() - self._fetched > (self.refresh if max_age is None else max_age):
            timeouts, plans = await self.source()
            if not timeouts:
                raise ValueError("the hub has no plans, so no idle timeouts")
            self.timeouts, self.plans, self._fetched = timeouts, plans, time.monotonic()

    async def __call__(
        self, *, inactive: timedelta, inactive_limit: int, server: dict[str, Any], **_: Any
    ) -> bool:
        await self.update()
        project = server.get("name") or ""
        if project not in self.plans:
            # A project created since the last read: read again (at most every 5 s) rather
            # than cull a new project's server with the shortest timeout.
            await self.update(max_age=5)
        limit = self.timeout_for(project)
        cull = inactive.total_seconds() >= limit
        if cull:
            log.info("server %s idle %s, past its plan's %s s", server.get("name"), inactive, limit)
        return cull


def hub_source(api: HubAPI | None = None) -> Source:
    """Read the plans and every project's plan from the hub's API (the culler's own token).

    The plans are read once: they change only with the hub's config, and a hub restart
    restarts the culler. Projects' plans are read at each call.
    """
    api = api or HubAPI()
    timeouts: dict[str, int] = {}

    def read() -> tuple[dict[str, int], dict[str, str]]:
        if not timeouts:
            settings = HubQuotaSettings.from_json(api.request("GET", PATH))
            timeouts.update({plan.name: plan.idle_timeout for plan in settings.plans.all()})
        plans = {
            name: str((group.get("properties") or {}).get("plan", ""))
            for name, group in api.groups().items()
        }
        return dict(timeouts), plans

    async def fetch() -> tuple[dict[str, int], dict[str, str]]:
        return await asyncio.to_thread(read)

    return fetch
