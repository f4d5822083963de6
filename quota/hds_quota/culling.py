"""Idle culling per plan: a decision hook for the standard jupyterhub-idle-culler.

The culler (a hub service, `idle_culler_config.py`) asks `PlanIdleTimeouts` about each
running server: the server's name is its project, the project's `plan` property names its
plan, and the plan says how long the server may sit idle. Projects are read from the hub's
API at most once per `refresh` seconds, so a plan change applies at the next round.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .plans import Plans

log = logging.getLogger("hds_quota.culling")

Groups = Callable[[], Awaitable[dict[str, dict[str, Any]]]]


class PlanIdleTimeouts:
    """`cull_arbiter_hook` for jupyterhub-idle-culler: cull after the project's plan's timeout."""

    def __init__(self, timeouts: dict[str, int], groups: Groups, refresh: float = 30.0):
        if not timeouts:
            raise ValueError("no plans, so no idle timeouts: define c.Plans.plans")
        self.timeouts = dict(timeouts)
        self.shortest = min(self.timeouts.values())
        self.groups = groups
        self.refresh = refresh
        self._plans: dict[str, str] = {}
        self._fetched = float("-inf")

    @classmethod
    def from_plans(cls, plans: Plans, groups: Groups, refresh: float = 30.0) -> PlanIdleTimeouts:
        return cls({plan.name: plan.idle_timeout for plan in plans.all()}, groups, refresh)

    def timeout_for(self, project: str) -> int:
        """The idle timeout of `project`'s plan; the shortest when its plan is unknown."""
        return self.timeouts.get(self._plans.get(project, ""), self.shortest)

    async def project_plans(self) -> dict[str, str]:
        if time.monotonic() - self._fetched > self.refresh:
            groups = await self.groups()
            self._plans = {
                name: str((group.get("properties") or {}).get("plan", ""))
                for name, group in groups.items()
            }
            self._fetched = time.monotonic()
        return self._plans

    async def __call__(
        self, *, inactive: timedelta, inactive_limit: int, server: dict[str, Any], **_: Any
    ) -> bool:
        await self.project_plans()
        limit = self.timeout_for(server.get("name") or "")
        cull = inactive.total_seconds() >= limit
        if cull:
            log.info("server %s idle %s, past its plan's %s s", server.get("name"), inactive, limit)
        return cull


def hub_groups(url: str | None = None, token: str | None = None) -> Groups:
    """Fetch every group with its properties from the hub's API (the culler's own token)."""
    base = (url or os.environ["JUPYTERHUB_API_URL"]).rstrip("/")
    headers = {
        "Authorization": f"token {token or os.environ['JUPYTERHUB_API_TOKEN']}",
        "Accept": "application/jupyterhub-pagination+json",
    }

    async def fetch() -> dict[str, dict[str, Any]]:
        client, groups, offset = AsyncHTTPClient(), {}, 0
        while True:
            request = HTTPRequest(f"{base}/groups?offset={offset}", headers=headers)
            page = json.loads((await client.fetch(request)).body)
            groups.update({group["name"]: group for group in page["items"]})
            following = page["_pagination"].get("next")
            if not following:
                return groups
            offset = following["offset"]

    return fetch
