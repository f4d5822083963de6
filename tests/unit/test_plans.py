"""Plans as configuration: defaults, operator changes, and errors that say what to write."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hds_quota.plans import DEFAULT_PLANS, Plans, parse_bytes


def test_default_plans_match_the_offer():
    public, private = Plans().get("public"), Plans().get("private")
    assert (public.price_eur_month, private.price_eur_month) == (150, 300)
    assert (public.cpu, public.memory, public.storage) == (2, 4 * 1024**3, 20 * 1024**3)
    assert (private.members, private.running_servers, private.cpu_hours_month) == (25, 15, 1000)
    assert (public.idle_timeout, private.idle_timeout) == (3600, 4 * 3600)


def test_operator_adds_a_plan_and_keeps_the_defaults():
    config = Config()
    config.Plans.plans.update({"gold": {**DEFAULT_PLANS["private"], "cpu": 8}})
    plans = Plans(config=config)
    assert set(plans.plans) == {"public", "private", "gold"}
    assert plans.get("gold").cpu == 8


def test_unknown_plan_names_the_defined_ones():
    with pytest.raises(
        ValueError, match="plan 'gold' is not defined; defined plans: private, public"
    ):
        Plans().get("gold")


@pytest.mark.parametrize(
    "case_id, plan, message",
    [
        ("missing", {"cpu": 1}, "missing limits"),
        ("unknown", {**DEFAULT_PLANS["public"], "gpus": 1}, "unknown limits gpus"),
        ("bad-size", {**DEFAULT_PLANS["public"], "memory": "lots"}, "write it like 4G"),
        ("zero", {**DEFAULT_PLANS["public"], "cpu": 0}, "cpu must be positive"),
    ],
)
def test_bad_plan_config_is_refused_at_start(case_id, plan, message):
    config = Config()
    config.Plans.plans = {"broken": plan}
    with pytest.raises((TraitError, ValueError), match=message):
        Plans(config=config)


@pytest.mark.parametrize(
    "text, size",
    [("4G", 4 * 1024**3), ("512M", 512 * 1024**2), ("20GiB", 20 * 1024**3), ("1024", 1024), (7, 7)],
)
def test_sizes(text, size):
    assert parse_bytes(text) == size


def test_a_plan_that_leaves_out_the_browser_budget_gets_the_default():
    assert "browser_bytes_day" not in DEFAULT_PLANS["public"], "existing plan configs"
    assert Plans().get("public").browser_bytes_day == 512 * 1024**2


def test_a_plan_sets_its_browser_budget_as_a_size_or_0_for_none():
    config = Config()
    config.Plans.plans.update({
        "open": {**DEFAULT_PLANS["public"], "browser_bytes_day": 0},
        "tight": {**DEFAULT_PLANS["public"], "browser_bytes_day": "64M"},
    })  # fmt: skip
    plans = Plans(config=config)
    assert plans.get("open").browser_bytes_day == 0
    assert plans.get("tight").browser_bytes_day == 64 * 1024**2


def test_the_missing_limits_message_names_the_optional_ones():
    config = Config()
    config.Plans.plans = {"broken": {"cpu": 1}}
    with pytest.raises((TraitError, ValueError), match="and may set browser_bytes_day"):
        Plans(config=config)
