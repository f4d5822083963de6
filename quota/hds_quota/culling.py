"""Idle culling per plan: a decision hook for the standard jupyterhub-idle-culler.

The culler (a hub service, configured by `jupyter_hds.services.idle_culler_config`) asks
`PlanIdleTimeouts` about each running server: the server's name is its project, the
project's `plan` property names its plan, and the plan says how long the server may sit
idle. The source (the hub's API) is read at most once per `refresh` seconds, so a plan
change applies at the next round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

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
