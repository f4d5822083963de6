"""Admission at spawn: may one more server of a project start under its plan, and if not, why.

Pure logic over figures the hub gathers, so every plan x limit case is a unit test. The
answer names the limit reached, the plan's figure and the project's, and what to do; the
hub's policy core (`jupyter_hds.policy.admission`) turns it into the refusal people read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plans import Plan
from .usage import Month, gib


@dataclass(frozen=True)
class Exceeded:
    """A plan limit a server start would go past: `limit` (members, running, compute,
    storage), `why` (the plan's figure and the project's) and `fix` (what to do), as sentences
    without their final full stop."""

    limit: str
    why: str
    fix: str


@dataclass(frozen=True)
class Occupancy:
    """A project's figures at the moment a server asks to start.

    `running`: its other servers running or admitted (not counting this one);
    `members`: people in the project's group; `cpu_hours_used`: compute used this month;
    `storage_used`: bytes its files take (None when it has no volume yet).
    """

    running: int
    members: int
    cpu_hours_used: float
    storage_used: int | None
    month: Month


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def hours(value: float) -> str:
    """CPU-hours for people: `200`, `250.5`, `0.0012`."""
    text = f"{value:.2f}" if value >= 1 or value == 0 else f"{value:.2g}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def check(plan: Plan, now: Occupancy) -> Exceeded | None:
    """The first limit reached, in this order: members (an administrator's to fix), running
    servers, monthly compute, storage; None when the server may start."""
    larger = "or an administrator can move the project to a larger plan"
    if now.members > plan.members:
        extra = now.members - plan.members
        return Exceeded(
            "members",
            f"its plan ({plan.name}) allows {_count(plan.members, 'member')} and it has "
            f"{now.members}",
            f"An administrator must remove {_count(extra, 'member')} or move the project to a "
            "larger plan",
        )  # fmt: skip
    if now.running >= plan.running_servers:
        return Exceeded(
            "running",
            f"its plan ({plan.name}) allows {_count(plan.running_servers, 'server')} running "
            f"at once and {now.running} {'is' if now.running == 1 else 'are'} running",
            f"Stop one of them, {larger}",
        )  # fmt: skip
    if now.cpu_hours_used >= plan.cpu_hours_month:
        return Exceeded(
            "compute",
            f"its plan ({plan.name}) includes {hours(plan.cpu_hours_month)} CPU-hours a month "
            f"and {hours(now.cpu_hours_used)} were used in {now.month}",
            f"Compute renews on {now.month.following.start.date()}, {larger}",
        )  # fmt: skip
    if now.storage_used is not None and now.storage_used > plan.storage:
        return storage_exceeded(plan, now.storage_used)
    return None


def storage_exceeded(plan: Plan, used: int) -> Exceeded:
    """The answer for a project whose files (`used` bytes) exceed its plan's storage."""
    return Exceeded(
        "storage",
        f"its plan ({plan.name}) allows {gib(plan.storage)} of storage and the project's "
        f"files take {gib(used)}",
        "An administrator must free space in it or move the project to a larger plan",
    )  # fmt: skip
