"""Idle culling per plan: the decision hook the standard idle culler calls for each server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from traitlets.config import Config

from hds_quota.culling import PlanIdleTimeouts
from hds_quota.plans import DEFAULT_PLANS, Plans

GROUPS = {
    "alpha": {"properties": {"plan": "public", "dataset": "a"}},
    "beta": {"properties": {"plan": "private", "dataset": "b"}},
    "gamma": {"properties": {"plan": "gold", "dataset": "c"}},  # not a defined plan
    "hds-admins": {"properties": {}},
}


def timeouts(groups=GROUPS, refresh=30.0):
    calls = []

    async def fetch():
        calls.append(1)
        return groups

    return PlanIdleTimeouts.from_plans(Plans(), fetch, refresh), calls


@pytest.mark.parametrize(
    "case_id, project, idle, culled",
    [
        ("public-59min", "alpha", timedelta(minutes=59), False),
        ("public-1h", "alpha", timedelta(hours=1), True),
        ("private-1h", "beta", timedelta(hours=1), False),
        ("private-3h59", "beta", timedelta(hours=3, minutes=59), False),
        ("private-4h", "beta", timedelta(hours=4), True),
        ("unknown-plan-uses-shortest", "gamma", timedelta(hours=1), True),
        ("no-such-project-uses-shortest", "zeta", timedelta(minutes=30), False),
        ("default-server-uses-shortest", "", timedelta(hours=1), True),
    ],
)
async def test_each_server_gets_its_plans_idle_timeout(case_id, project, idle, culled):
    arbiter, _ = timeouts()
    server = {"name": project, "last_activity": "..."}
    assert await arbiter(inactive=idle, inactive_limit=600, server=server) is culled


async def test_projects_are_fetched_once_per_refresh_and_plan_changes_apply_after():
    groups = {"alpha": {"properties": {"plan": "public"}}}
    arbiter, calls = timeouts(groups, refresh=0.0)
    server, idle = {"name": "alpha"}, timedelta(hours=2)
    assert await arbiter(inactive=idle, inactive_limit=600, server=server)
    groups["alpha"]["properties"]["plan"] = "private"
    assert not await arbiter(inactive=idle, inactive_limit=600, server=server)
    assert len(calls) == 2
    cached, calls = timeouts(groups, refresh=3600)
    for _ in range(3):
        await cached(inactive=idle, inactive_limit=600, server=server)
    assert len(calls) == 1


def test_the_culler_runs_at_the_shortest_timeout():
    config = Config()
    config.Plans.plans.update({"short": {**DEFAULT_PLANS["public"], "idle_timeout": 900}})

    async def fetch():
        return {}

    assert PlanIdleTimeouts.from_plans(Plans(config=config), fetch).shortest == 900
