"""How much a server may report: a rate and a daily volume, each refusal episode recorded once."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_hds.audit.limits import AuditIntake, IntakeLimits

SERVER = "server:alice/cohort-a"


def limits(**changes) -> IntakeLimits:
    settings = {"rate": 10.0, "burst": 100, "daily_bytes": 10_000, "report_every": 600.0}
    return IntakeLimits(**{**settings, **changes})


def test_a_server_within_its_limits_is_admitted():
    intake = limits()
    assert all(intake.admit(SERVER, 1, 100, now=t / 10).allowed for t in range(50))


def test_past_its_burst_a_server_waits_for_its_rate():
    intake = limits()
    assert intake.admit(SERVER, 100, 10, now=0.0).allowed
    refused = intake.admit(SERVER, 20, 10, now=1.0)  # 10 events earned in one second
    assert (refused.allowed, refused.limit) == (False, "rate")
    assert refused.retry_after == pytest.approx(1.0)
    assert intake.admit(SERVER, 20, 10, now=2.0).allowed


def test_past_its_daily_volume_a_server_waits_for_the_next_day():
    intake = limits(rate=1e6, burst=10**6)
    assert intake.admit(SERVER, 1, 9_000, now=0, day="2025-06-01").allowed
    refused = intake.admit(SERVER, 1, 2_000, now=1, day="2025-06-01")
    assert (refused.allowed, refused.limit) == (False, "daily")
    assert intake.admit(SERVER, 1, 2_000, now=2, day="2025-06-02").allowed


def test_servers_are_limited_apart():
    intake = limits()
    assert intake.admit(SERVER, 100, 10, now=0).allowed
    assert not intake.admit(SERVER, 1, 10, now=0).allowed
    assert intake.admit("server:bob/cohort-b", 100, 10, now=0).allowed


def test_a_flood_is_recorded_once_per_episode_with_what_was_refused_since():
    intake = limits(report_every=600.0)
    intake.admit(SERVER, 100, 10, now=0)
    verdicts = [intake.admit(SERVER, 100, 10, now=1 + n / 1000) for n in range(500)]
    assert [v.record for v in verdicts].count(True) == 1 and verdicts[0].record
    assert intake.admit(SERVER, 100, 10, now=601.5).allowed  # the bucket refilled meanwhile
    again = intake.admit(SERVER, 100, 10, now=601.6)  # the next episode, 600 s later
    assert (again.record, again.refused_since) == (True, 500)
    assert not intake.admit(SERVER, 100, 10, now=601.7).record


def test_the_settings_are_traitlets_config():
    config = Config()
    config.AuditIntake.server_rate = 2.5
    config.AuditIntake.server_daily_bytes = 1000
    made = AuditIntake(config=config).limits()
    assert (made.rate, made.burst, made.daily_bytes) == (2.5, 2000, 1000)
    with pytest.raises(ValueError, match="must be positive"):
        IntakeLimits(0, 10, 10)


def test_the_gate_before_the_body_is_read_counts_nothing():
    intake = limits()
    assert intake.gate(SERVER, 10, now=0).allowed
    assert intake.admit(SERVER, 100, 10, now=0).allowed  # the gate took none of the burst
    refused = intake.gate(SERVER, 10, now=0.01)
    assert (refused.allowed, refused.limit, refused.record) == (False, "rate", True)
