"""Admission: may one more server of a project start under its plan.

The plan arithmetic is `hds_quota.admission`; this turns what it finds into the refusal a
member reads on the hub.
"""

from __future__ import annotations

from hds_quota.admission import Exceeded, Occupancy, check, storage_exceeded

from .projects import Project
from .refusal import Refused


def refusal(project: str, exceeded: Exceeded) -> Refused:
    return Refused(
        f"quota-{exceeded.limit}",
        f"Project '{project}' cannot start: {exceeded.why}.",
        f"{exceeded.fix}.",
    )


def admit(project: Project, now: Occupancy) -> None:
    """Raise Refused when the project's plan does not allow one more server `now`."""
    exceeded = check(project.plan, now)
    if exceeded is not None:
        raise refusal(project.name, exceeded)


def storage_too_small(project: Project, used: int) -> Refused:
    """The refusal when the project's files (`used` bytes) do not fit its plan's storage."""
    return refusal(project.name, storage_exceeded(project.plan, used))


def storage_unavailable(project: str) -> Refused:
    """The refusal when the project's storage cannot be made ready (the hub log says why)."""
    return Refused(
        "storage-unavailable",
        f"Project '{project}' cannot start: its storage could not be made ready.",
        f"An administrator must check the hub's log (storage of project {project}).",
    )
