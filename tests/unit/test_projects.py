"""Project properties: every way an admin can get them wrong, and what the user is told."""

from __future__ import annotations

from datetime import date

import pytest
from traitlets.config import Config

from hds_quota.plans import Plans
from jupyter_hds.projects import ProjectRefused, ProjectSettings, is_project, project_for_server

TODAY = date(2026, 11, 28)


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "datasets" / "cohort").mkdir(parents=True)
    (tmp_path / "datasets" / "v1.2_cohort").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "datasets" / "escape").symlink_to(tmp_path / "outside")
    (tmp_path / "datasets" / "a-file").write_text("not a folder")
    config = Config()
    config.ProjectSettings.datasets_root = str(tmp_path / "datasets")
    config.ProjectSettings.images = {"r": "jupyter-hds/singleuser-r:1"}
    return ProjectSettings(config=config)


VALID = {"plan": "public", "dataset": "cohort"}


@pytest.mark.parametrize(
    "case_id, properties, expected",
    [
        ("minimal", VALID, {"plan": "public", "dataset": "cohort", "image": "jupyter-hds/singleuser:latest"}),
        ("all", {**VALID, "plan": "private", "image": "r", "expires": "2027-01-31", "description": "d"},
         {"plan": "private", "image": "jupyter-hds/singleuser-r:1", "expires": date(2027, 1, 31)}),
        ("dotted-dataset", {**VALID, "dataset": "v1.2_cohort"}, {"dataset": "v1.2_cohort"}),
        ("expires-today", {**VALID, "expires": "2026-11-28"}, {"expires": date(2026, 11, 28)}),
        ("unknown-plan", {**VALID, "plan": "gold"}, "plan 'gold' is not defined; defined plans: private, public"),
        ("no-plan", {"dataset": "cohort"}, "set its `plan` property"),
        ("parent-dataset", {**VALID, "dataset": ".."}, "plain folder name"),
        ("dotdot-path", {**VALID, "dataset": "../etc"}, "plain folder name"),
        ("absolute", {**VALID, "dataset": "/etc"}, "plain folder name"),
        ("nested", {**VALID, "dataset": "cohort/sub"}, "plain folder name"),
        ("double-dot-inside", {**VALID, "dataset": "a..b"}, "plain folder name"),
        ("uppercase", {**VALID, "dataset": "Cohort"}, "plain folder name"),
        ("symlink-out", {**VALID, "dataset": "escape"}, "points outside"),
        ("not-a-folder", {**VALID, "dataset": "a-file"}, "create the dataset folder"),
        ("missing-folder", {**VALID, "dataset": "nowhere"}, "create the dataset folder"),
        ("no-dataset", {"plan": "public"}, "set its `dataset` property"),
        ("unknown-image", {**VALID, "image": "ubuntu"}, "allowed image name (r)"),
        ("image-reference", {**VALID, "image": "evil/image:latest"}, "allowed image name"),
        ("past-expiry", {**VALID, "expires": "2026-11-27"}, "it expired on 2026-11-27"),
        ("bad-expiry", {**VALID, "expires": "31/12/2026"}, "write `expires` as YYYY-MM-DD"),
        ("typo-property", {**VALID, "expire": "2027-01-01"}, "remove unknown properties expire"),
    ],
)  # fmt: skip
def test_properties(settings, case_id, properties, expected):
    if isinstance(expected, str):
        with pytest.raises(ProjectRefused) as refused:
            settings.parse("cohort-2024", properties, Plans(), TODAY)
        assert expected in str(refused.value)
        assert str(refused.value).startswith("Project 'cohort-2024' cannot start:")
    else:
        project = settings.parse("cohort-2024", properties, Plans(), TODAY)
        for field, value in expected.items():
            actual = getattr(project, field)
            assert (actual.name if field == "plan" else actual) == value


def test_every_problem_is_listed_at_once(settings):
    with pytest.raises(ProjectRefused) as refused:
        settings.parse("x", {"plan": "gold", "dataset": "../etc", "image": "u"}, Plans(), TODAY)
    assert refused.value.fix.count(";") >= 2


@pytest.mark.parametrize(
    "name", ["Cohort", "-cohort", "cohort-", "c" * 31, "co_hort", "co.hort", "é"]
)
def test_invalid_project_names(settings, name):
    with pytest.raises(ProjectRefused, match="project names are lowercase"):
        settings.parse(name, VALID, Plans(), TODAY)


@pytest.mark.parametrize(
    "case_id, server, properties, member, reason",
    [
        ("default-server", "", VALID, True, "no-project"),
        ("no-group", "cohort", None, False, "no-project"),
        ("not-member", "cohort", VALID, False, "not-member"),
        ("plain-group", "staff", {"colour": "blue"}, True, "not-a-project"),
        ("expired", "cohort", {**VALID, "expires": "2020-01-01"}, True, "expired"),
    ],
)
def test_project_for_server_refusals(settings, case_id, server, properties, member, reason):
    with pytest.raises(ProjectRefused) as refused:
        project_for_server(settings, server, properties, member, Plans(), TODAY)
    assert refused.value.reason == reason


def test_member_gets_the_project(settings):
    project = project_for_server(settings, "cohort", VALID, True, Plans(), TODAY)
    assert project.dataset_path.name == "cohort" and project.plan.memory == 4 * 1024**3


def test_only_groups_with_plan_or_dataset_are_projects():
    assert is_project({"plan": "public"}) and is_project({"dataset": "x"})
    assert not is_project({}) and not is_project({"description": "staff"})


def test_servers_never_run_as_root():
    config = Config()
    config.ProjectSettings.uid = 0
    with pytest.raises(Exception, match="never run as root"):
        ProjectSettings(config=config)
