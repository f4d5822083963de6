"""Admission at spawn: every plan x limit case, allowed or refused with the exact message."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from hds_quota import admission
from hds_quota.admission import Occupancy
from hds_quota.plans import DEFAULT_PLANS, Plans
from hds_quota.usage import Month
from jupyter_hds.policy.admission import admit
from jupyter_hds.policy.projects import Project
from jupyter_hds.policy.refusal import Refused

MAY = Month(2026, 5)
G = 1024**3


def plans():
    config = Config()
    config.Plans.plans.update(
        {"tiny": {**DEFAULT_PLANS["public"], "members": 1, "running_servers": 1,
                  "cpu_hours_month": 0.5, "storage": "64M", "price_eur_month": 0}}
    )  # fmt: skip
    return Plans(config=config)


def check(name, plan, occupancy):
    """The policy core's admission of a server of project `name` on `plan`."""
    admit(Project(name, plan, "data", Path("/data"), 1, "image", None, ""), occupancy)


def at(running=0, members=1, cpu=0.0, storage=None):
    return Occupancy(running, members, cpu, storage, MAY)


ALLOWED = None
CASES = [
    # (case_id, plan, occupancy, expected reason and message, or ALLOWED)
    ("public-fresh", "public", at(), ALLOWED),
    ("public-4-running", "public", at(running=4), ALLOWED),
    ("public-5-running", "public", at(running=5),
     ("quota-running", "Project 'p' cannot start: its plan (public) allows 5 servers running at once and 5 are running. Stop one of them, or an administrator can move the project to a larger plan.")),
    ("private-14-running", "private", at(running=14), ALLOWED),
    ("private-15-running", "private", at(running=15),
     ("quota-running", "Project 'p' cannot start: its plan (private) allows 15 servers running at once and 15 are running. Stop one of them, or an administrator can move the project to a larger plan.")),
    ("public-10-members", "public", at(members=10), ALLOWED),
    ("public-11-members", "public", at(members=11),
     ("quota-members", "Project 'p' cannot start: its plan (public) allows 10 members and it has 11. An administrator must remove 1 member or move the project to a larger plan.")),
    ("private-25-members", "private", at(members=25), ALLOWED),
    ("private-28-members", "private", at(members=28),
     ("quota-members", "Project 'p' cannot start: its plan (private) allows 25 members and it has 28. An administrator must remove 3 members or move the project to a larger plan.")),
    ("public-199.99-cpu-h", "public", at(cpu=199.99), ALLOWED),
    ("public-200-cpu-h", "public", at(cpu=200),
     ("quota-compute", "Project 'p' cannot start: its plan (public) includes 200 CPU-hours a month and 200 were used in 2026-05. Compute renews on 2026-06-01, or an administrator can move the project to a larger plan.")),
    ("public-250.5-cpu-h", "public", at(cpu=250.5),
     ("quota-compute", "Project 'p' cannot start: its plan (public) includes 200 CPU-hours a month and 250.5 were used in 2026-05. Compute renews on 2026-06-01, or an administrator can move the project to a larger plan.")),
    ("private-999-cpu-h", "private", at(cpu=999), ALLOWED),
    ("private-1000-cpu-h", "private", at(cpu=1000),
     ("quota-compute", "Project 'p' cannot start: its plan (private) includes 1000 CPU-hours a month and 1000 were used in 2026-05. Compute renews on 2026-06-01, or an administrator can move the project to a larger plan.")),
    ("public-storage-full", "public", at(storage=20 * G), ALLOWED),
    ("public-storage-over", "public", at(storage=21 * G),
     ("quota-storage", "Project 'p' cannot start: its plan (public) allows 20 GiB of storage and the project's files take 21 GiB. An administrator must free space in it or move the project to a larger plan.")),
    ("private-storage-60G", "private", at(storage=60 * G), ALLOWED),
    ("private-storage-over", "private", at(storage=int(100.5 * G)),
     ("quota-storage", "Project 'p' cannot start: its plan (private) allows 100 GiB of storage and the project's files take 100.5 GiB. An administrator must free space in it or move the project to a larger plan.")),
    ("no-volume-yet", "public", at(storage=None), ALLOWED),
    ("tiny-alone", "tiny", at(cpu=0.49, storage=10 * 1024**2), ALLOWED),
    ("tiny-two-members", "tiny", at(members=2),
     ("quota-members", "Project 'p' cannot start: its plan (tiny) allows 1 member and it has 2. An administrator must remove 1 member or move the project to a larger plan.")),
    ("tiny-second-server", "tiny", at(running=1),
     ("quota-running", "Project 'p' cannot start: its plan (tiny) allows 1 server running at once and 1 is running. Stop one of them, or an administrator can move the project to a larger plan.")),
    ("tiny-compute", "tiny", at(cpu=0.5),
     ("quota-compute", "Project 'p' cannot start: its plan (tiny) includes 0.5 CPU-hours a month and 0.5 were used in 2026-05. Compute renews on 2026-06-01, or an administrator can move the project to a larger plan.")),
    ("tiny-storage", "tiny", at(storage=65 * 1024**2),
     ("quota-storage", "Project 'p' cannot start: its plan (tiny) allows 64 MiB of storage and the project's files take 65 MiB. An administrator must free space in it or move the project to a larger plan.")),
    # Several limits reached: members first (only an administrator can fix it), then running
    # servers, then compute, then storage.
    ("members-before-compute", "public", at(members=12, running=5, cpu=300),
     ("quota-members", "Project 'p' cannot start: its plan (public) allows 10 members and it has 12. An administrator must remove 2 members or move the project to a larger plan.")),
    ("running-before-compute", "public", at(running=5, cpu=300, storage=30 * G),
     ("quota-running", "Project 'p' cannot start: its plan (public) allows 5 servers running at once and 5 are running. Stop one of them, or an administrator can move the project to a larger plan.")),
    ("compute-before-storage", "public", at(cpu=300, storage=30 * G),
     ("quota-compute", "Project 'p' cannot start: its plan (public) includes 200 CPU-hours a month and 300 were used in 2026-05. Compute renews on 2026-06-01, or an administrator can move the project to a larger plan.")),
]  # fmt: skip


@pytest.mark.parametrize("case_id, plan, occupancy, expected", CASES, ids=[c[0] for c in CASES])
def test_plan_limit_case(case_id, plan, occupancy, expected):
    if expected is ALLOWED:
        check("p", plans().get(plan), occupancy)
        return
    with pytest.raises(Refused) as refused:
        check("p", plans().get(plan), occupancy)
    assert (refused.value.reason, str(refused.value)) == expected


def test_december_compute_renews_in_january():
    with pytest.raises(Refused, match="renews on 2027-01-01"):
        check("p", plans().get("tiny"), Occupancy(0, 1, 1.0, None, Month(2026, 12)))


def test_the_plan_arithmetic_names_the_limit_without_the_project():
    exceeded = admission.check(plans().get("tiny"), at(running=1))
    assert (exceeded.limit, exceeded.why) == (
        "running",
        "its plan (tiny) allows 1 server running at once and 1 is running",
    )
    assert admission.check(plans().get("tiny"), at()) is None
