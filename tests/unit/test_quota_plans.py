"""Plan limits that cannot work are refused when the hub loads its config, with what to write."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hds_quota.plans import DEFAULT_PLANS, Plans

PUBLIC = DEFAULT_PLANS["public"]


@pytest.mark.parametrize(
    "case_id, limits, message",
    [
        ("idle-at-activity-interval", {"idle_timeout": 330}, "idle_timeout must exceed 330 s"),
        ("idle-tiny", {"idle_timeout": 20}, "write 3600 for 1 h"),
        ("storage-tiny", {"storage": "1M"}, "storage must be at least 32M"),
        ("no-compute", {"cpu_hours_month": 0}, "cpu_hours_month must be positive"),
        ("negative-price", {"price_eur_month": -1}, "price_eur_month cannot be negative"),
        ("no-servers", {"running_servers": 0}, "running_servers must be positive"),
        ("negative-budget", {"browser_bytes_day": -1}, "browser_bytes_day cannot be negative"),
        ("bad-budget", {"browser_bytes_day": "lots"}, "write it like 4G"),
    ],
)
def test_unworkable_limits_are_refused(case_id, limits, message):
    config = Config()
    config.Plans.plans.update({"bad": {**PUBLIC, **limits}})
    with pytest.raises((TraitError, ValueError), match=message):
        Plans(config=config)


def test_a_lower_idle_floor_allows_short_timeouts_whatever_the_order():
    config = Config()
    config.Plans.plans.update({"brief": {**PUBLIC, "idle_timeout": 20}})
    config.Plans.idle_timeout_floor = 10  # set after the plans: checked together
    assert Plans(config=config).get("brief").idle_timeout == 20


def test_free_plans_are_allowed():
    config = Config()
    config.Plans.plans.update({"pilot": {**PUBLIC, "price_eur_month": 0}})
    assert Plans(config=config).get("pilot").price_eur_month == 0


def test_all_lists_every_plan_by_name():
    assert [plan.name for plan in Plans().all()] == ["private", "public"]
