"""Project properties: every way an admin can get them wrong, and what the user is told."""

from __future__ import annotations

from datetime import date

import pytest
from traitlets.config import Config

from hds_quota.plans import Plans
from jupyter_hds.policy.projects import ProjectRules, ProjectSettings, is_project
from jupyter_hds.policy.refusal import Refused


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "datasets" / "cohort").mkdir(parents=True)
    (tmp_path / "datasets" / "v1.2_cohort").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "datasets" / "escape").symlink_to(tmp_path / "outside")
    (tmp_path / "datasets" / "a-file").write_text("not a folder")
    config = Config()
    config.ProjectSettings.images = {"r": "jupyter-hds/singleuser-r:1"}
    config.ProjectSettings.default_image = "jupyter-hds/singleuser:latest"
    return ProjectRules(Plans(), ProjectSettings(config=config), tmp_path / "datasets")


VALID = {"plan": "public", "dataset": "cohort"}


@pytest.mark.parametrize(
    "case_id, properties, expected",
    [
        ("minimal", VALID, {"plan": "public", "dataset": "cohort", "image": "jupyter-hds/singleuser:latest"}),
        ("all", {**VALID, "plan": "private", "image": "r", "expires": "2027-01-31", "description": "d"},
         {"plan": "private", "image": "jupyter-hds/singleuser-r:1", "expires": date(2027, 1, 31)}),
        ("dotted-dataset", {**VALID, "dataset": "v1.2_cohort"}, {"dataset": "v1.2_cohort"}),
        ("expires-today", {**VALID, "expires": "2026-11-28"}, {"expires": date(2026, 11, 28)}),
        # Whether that date has passed is the access rule's question (test_access).
        ("past-expiry", {**VALID, "expires": "2026-11-27"}, {"expires": date(2026, 11, 27)}),
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
        ("bad-expiry", {**VALID, "expires": "31/12/2026"}, "write `expires` as YYYY-MM-DD"),
        ("typo-property", {**VALID, "expire": "2027-01-01"}, "remove unknown properties expire"),
    ],
)  # fmt: skip
def test_properties(settings, case_id, properties, expected):
    if isinstance(expected, str):
        with pytest.raises(Refused) as refused:
            settings.parse("cohort-2024", properties)
        assert expected in str(refused.value)
        assert str(refused.value).startswith("Project 'cohort-2024' cannot start:")
        assert refused.value.reason == "invalid-project"
    else:
        project = settings.parse("cohort-2024", properties)
        for field, value in expected.items():
            actual = getattr(project, field)
            assert (actual.name if field == "plan" else actual) == value


def test_every_problem_is_listed_at_once(settings):
    with pytest.raises(Refused) as refused:
        settings.parse("x", {"plan": "gold", "dataset": "../etc", "image": "u"})
    fix = refused.value.fix
    for problem in ("fix its `plan` property", "set its `dataset` property", "set `image`"):
        assert problem in fix, fix


@pytest.mark.parametrize(
    "name", ["Cohort", "-cohort", "cohort-", "c" * 31, "co_hort", "co.hort", "é"]
)
def test_invalid_project_names(settings, name):
    with pytest.raises(Refused, match="project names are lowercase"):
        settings.parse(name, VALID)


def test_only_groups_with_plan_or_dataset_are_projects():
    assert is_project({"plan": "public"}) and is_project({"dataset": "x"})
    assert not is_project({}) and not is_project({"description": "staff"})


def test_servers_never_run_as_root():
    config = Config()
    config.ProjectSettings.uid = 0
    with pytest.raises(Exception, match="never run as root"):
        ProjectSettings(config=config)
