"""Idle culling per plan: the decision hook the standard idle culler calls for each server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hds_quota.culling import PlanIdleTimeouts
from hds_quota.plans import Plans

PLANS = {"alpha": "public", "beta": "private", "gamma": "gold", "hds-admins": ""}


def timeouts(project_plans=PLANS, refresh=30.0):
    calls = []

    async def source():
        calls.append(1)
        return {plan.name: plan.idle_timeout for plan in Plans().all()}, dict(project_plans)

    return PlanIdleTimeouts(source, refresh), calls


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


async def test_plans_are_read_once_per_refresh_and_changes_apply_after():
    project_plans = {"alpha": "public"}
    arbiter, calls = timeouts(project_plans, refresh=-1)
    server, idle = {"name": "alpha"}, timedelta(hours=2)
    assert await arbiter(inactive=idle, inactive_limit=600, server=server)
    project_plans["alpha"] = "private"
    assert not await arbiter(inactive=idle, inactive_limit=600, server=server)
    cached, calls = timeouts(refresh=3600)
    for _ in range(3):
        await cached(inactive=idle, inactive_limit=600, server=server)
    assert len(calls) == 1


async def test_a_hub_without_plans_is_an_error():
    async def source():
        return {}, {}

    with pytest.raises(ValueError, match="no plans"):
        await PlanIdleTimeouts(source)(inactive=timedelta(0), inactive_limit=1, server={})


async def test_a_project_created_since_the_last_read_is_looked_up_before_culling():
    project_plans = {"alpha": "public"}
    arbiter, calls = timeouts(project_plans, refresh=3600)
    idle = timedelta(minutes=10)  # past the shortest plan's timeout, well within public's
    assert not await arbiter(inactive=idle, inactive_limit=600, server={"name": "alpha"})
    project_plans["fresh"] = "private"  # created after the culler's last read, 10 s ago
    arbiter._fetched -= 10
    assert not await arbiter(inactive=idle, inactive_limit=600, server={"name": "fresh"})
    assert len(calls) == 2
