"""Admission: may one more server of a project start under its plan.

The plan arithmetic is `hds_quota.admission`; this turns what it finds into the refusal a
member reads on the hub, as translatable sentences with the same English as `hds_quota`'s
(`tests/unit/test_i18n_messages.py` holds the two together).
"""

from __future__ import annotations

from hds_quota.admission import Exceeded, Occupancy, check, hours, storage_exceeded
from hds_quota.plans import Plan
from hds_quota.usage import gib

from .projects import Project
from .refusal import Refused
from .text import Plural, Text

LARGER = Text("or an administrator can move the project to a larger plan")


def _members(n: int) -> Text:
    return Plural("{n} member", "{n} members", n=n)


def _sentences(plan: Plan, now: Occupancy, limit: str) -> tuple[Text, Text]:
    """What a member reads when `limit` is reached: why, and what to do (no final stop)."""
    if limit == "members":
        return (
            Text("its plan ({plan}) allows {allowed} and it has {members}",
                 plan=plan.name, allowed=_members(plan.members), members=now.members),
            Text("An administrator must remove {extra} or move the project to a larger plan",
                 extra=_members(now.members - plan.members)),
        )  # fmt: skip
    if limit == "running":
        return (
            Text("its plan ({plan}) allows {allowed} running at once and {running}",
                 plan=plan.name,
                 allowed=Plural("{n} server", "{n} servers", n=plan.running_servers),
                 running=Plural("{n} is running", "{n} are running", n=now.running)),
            Text("Stop one of them, {larger}", larger=LARGER),
        )  # fmt: skip
    if limit == "compute":
        return (
            Text("its plan ({plan}) includes {budget} CPU-hours a month and {used} were used "
                 "in {month}", plan=plan.name, budget=hours(plan.cpu_hours_month),
                 used=hours(now.cpu_hours_used), month=now.month),
            Text("Compute renews on {date}, {larger}",
                 date=now.month.following.start.date(), larger=LARGER),
        )  # fmt: skip
    return _storage(plan, now.storage_used or 0)


def _storage(plan: Plan, used: int) -> tuple[Text, Text]:
    return (
        Text("its plan ({plan}) allows {size} of storage and the project's files take {used}",
             plan=plan.name, size=gib(plan.storage), used=gib(used)),
        Text("An administrator must free space in it or move the project to a larger plan"),
    )  # fmt: skip


def refusal(project: str, exceeded: Exceeded, why: Text, fix: Text) -> Refused:
    return Refused(
        f"quota-{exceeded.limit}",
        Text("Project '{project}' cannot start: {why}.", project=project, why=why),
        Text("{fix}.", fix=fix),
    )


def admit(project: Project, now: Occupancy) -> None:
    """Raise Refused when the project's plan does not allow one more server `now`."""
    exceeded = check(project.plan, now)
    if exceeded is not None:
        raise refusal(project.name, exceeded, *_sentences(project.plan, now, exceeded.limit))


def storage_too_small(project: Project, used: int) -> Refused:
    """The refusal when the project's files (`used` bytes) do not fit its plan's storage."""
    exceeded = storage_exceeded(project.plan, used)
    return refusal(project.name, exceeded, *_storage(project.plan, used))


def storage_unavailable(project: str) -> Refused:
    """The refusal when the project's storage cannot be made ready (the hub log says why)."""
    return Refused(
        "storage-unavailable",
        Text("Project '{project}' cannot start: its storage could not be made ready.",
             project=project),
        Text("An administrator must check the hub's log (storage of project {project}).",
             project=project),
    )  # fmt: skip
