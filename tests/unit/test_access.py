"""The one access rule: who may use which project today, and what the guard stops."""

from __future__ import annotations

from datetime import date

import pytest
from traitlets.config import Config

from hds_quota.plans import Plans
from jupyter_hds.policy.access import (
    ProjectFacts,
    access_problem,
    check_access,
    project_problem,
    startable_project,
)
from jupyter_hds.policy.projects import ProjectRules, ProjectSettings
from jupyter_hds.policy.refusal import Refused
from jupyter_hds.projects.guard import sweep
from support.datasets import write_dataset

TODAY = date(2026, 11, 28)
VALID = {"plan": "public", "dataset": "cohort"}
FACTS = {
    "alpha": ProjectFacts.of("alpha", VALID, ["ann", "ben"]),
    "ends-today": ProjectFacts.of("ends-today", {**VALID, "expires": "2026-11-28"}, ["ann"]),
    "ended": ProjectFacts.of("ended", {**VALID, "expires": "2026-11-27"}, ["ann"]),
    "garbled": ProjectFacts.of("garbled", {**VALID, "expires": "soon"}, ["ann"]),
    "staff": ProjectFacts.of("staff", {"colour": "blue"}, ["ann"]),
}


EXTEND = "An administrator must extend its `expires` property or close it."


@pytest.mark.parametrize(
    "case_id, person, project, expected",
    [
        ("member", "ann", "alpha", None),
        ("last-day", "ann", "ends-today", None),
        ("project-only", None, "alpha", None),
        ("not-member", "cid", "alpha", ("not-member", "cid is not a member of project alpha",
         "An administrator must add cid to the project's group if they should be.")),
        ("closed", "ann", "gone", ("no-project", "there is no project gone", "")),
        ("expired", "ann", "ended", ("expired", "project ended ended on 2026-11-27", EXTEND)),
        ("expired-project-only", None, "ended", ("expired", "ended on 2026-11-27", EXTEND)),
        ("unreadable-end", "ann", "garbled", ("invalid-project", "unreadable end date",
         "An administrator must write `expires` as YYYY-MM-DD, not 'soon'.")),
        ("plain-group", "ann", "staff", ("not-a-project", "group staff is not set up",
         "An administrator must set its `plan` and `dataset` properties.")),
        ("default-server", "ann", "", ("no-project", "every server belongs to a project",
         "Open one of your projects from the home page.")),
    ],
)  # fmt: skip
def test_access(case_id, person, project, expected):
    problem = access_problem(person, project, FACTS.get(project), TODAY)
    if expected is None:
        assert problem is None
        check_access(person, project, FACTS.get(project), TODAY)
        return
    assert problem is not None and problem.reason == expected[0]
    assert expected[1] in problem.message
    assert problem.fix == expected[2]


@pytest.fixture
def rules(tmp_path):
    write_dataset(tmp_path, "cohort", project="alpha")
    config = Config()
    config.ProjectSettings.default_image = "img"
    return ProjectRules(Plans(), ProjectSettings(config=config), tmp_path)


def test_a_member_starts_the_checked_project(rules):
    project = startable_project(rules, "ann", "alpha", FACTS["alpha"], TODAY)
    assert (project.name, project.plan.name, project.dataset_path.name) == ("alpha", "public",
                                                                              "1")  # fmt: skip


def test_refusals_to_start_read_as_the_member_sees_them(rules):
    with pytest.raises(Refused) as refused:
        startable_project(rules, "cid", "alpha", FACTS["alpha"], TODAY)
    assert str(refused.value) == (
        "Project 'alpha' cannot start: cid is not a member of project alpha. An administrator "
        "must add cid to the project's group if they should be."
    )
    assert refused.value.status == 403


def test_access_is_checked_before_the_properties(rules):
    bad = ProjectFacts.of("alpha", {"plan": "gold", "dataset": "cohort"}, ["ann"])
    assert "plan 'gold' is not defined" in project_problem(rules, "ann", "alpha", bad, TODAY)
    assert "not a member" in project_problem(rules, "cid", "alpha", bad, TODAY)
    assert project_problem(rules, None, "alpha", FACTS["alpha"], TODAY) == ""


class FakeHub:
    """The three calls the guard makes of the hub's API (a fake for the guard's logic)."""

    def __init__(self, groups, active):
        self._groups, self._active, self.deleted = groups, active, []

    def groups(self):
        return self._groups

    def active_servers(self):
        return iter(self._active)

    def request(self, method, path, ok=(200,)):
        self.deleted.append((method, path))


def test_the_guard_stops_exactly_the_servers_the_rule_refuses():
    groups = {
        "alpha": {"name": "alpha", "users": ["ann"], "properties": VALID},
        "ended": {"name": "ended", "users": ["ann"], "properties": {**VALID, "expires": "2020-01-01"}},
    }  # fmt: skip
    hub = FakeHub(groups, [("ann", "alpha"), ("ben", "alpha"), ("ann", "ended"), ("ann", "gone")])
    stopped = sweep(hub, TODAY)
    assert [(user, server) for user, server, _ in stopped] == [
        ("ben", "alpha"), ("ann", "ended"), ("ann", "gone")
    ]  # fmt: skip
    assert hub.deleted == [("DELETE", f"/users/{u}/servers/{s}") for u, s, _ in stopped]
