"""Compute a project used earlier this month, written to its usage ledger as a past session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hds_quota.ledger import Ledger, server_started, server_stopped
from hds_quota.plans import Plan
from hds_quota.usage import Month

HOUR = timedelta(hours=1)


def used_this_month(
    ledger: Ledger, plan: Plan, project: str, user: str, cpu_hours: float, members: int = 2
) -> None:
    """A finished session of `user` in `project` that used `cpu_hours` CPU-hours, inside the
    current UTC month and before now, whatever the hour.

    The session lasts an hour and ended an hour ago; in a month's first two hours it is
    shorter (and uses more cores) so that it still lies in this month: a session begun the
    evening before the 1st would count only in part.
    """
    now = datetime.now(UTC)
    begins = max(Month.of(now).start, now - 2 * HOUR)
    length = min(HOUR, (now - begins) / 2) or timedelta(microseconds=1)
    cores = cpu_hours / (length / HOUR)
    ledger.append(
        {**server_started(plan, project, user, members, 0, "i"), "cpu": cores}, now=begins
    )
    ledger.append(server_stopped(project, user, "stopped"), now=begins + length)
