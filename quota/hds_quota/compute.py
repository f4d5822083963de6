"""Compute, the monthly budget: which running servers' projects have used theirs up.

Pure decisions over figures the usage ledger gives (`Usage.cpu_hours_by_project`); the
usage service stops the servers this names, through the hub's API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .plans import Plan


@dataclass(frozen=True)
class OutOfCompute:
    """A running server whose project used its plan's monthly compute."""

    user: str
    project: str
    plan: Plan
    used: float


def out_of_compute(
    running: Iterable[tuple[str, str]],
    plans: Mapping[str, Plan],
    used: Mapping[str, float],
) -> list[OutOfCompute]:
    """The (user, project) servers of `running` to stop: those whose project's CPU-hours
    `used` this month reached its plan's `cpu_hours_month`. Projects without a plan in
    `plans` (invalid, closed) are left to the project guard."""
    found = []
    for user, project in sorted(running):
        plan = plans.get(project)
        if plan is not None and used.get(project, 0.0) >= plan.cpu_hours_month:
            found.append(OutOfCompute(user, project, plan, used.get(project, 0.0)))
    return found
