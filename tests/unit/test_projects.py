"""Project properties: every way an admin can get them wrong, and what the user is told."""

from __future__ import annotations

from datetime import date

import pytest
from traitlets.config import Config

from hds_quota.plans import Plans
from jupyter_hds.policy.projects import ProjectRules, ProjectSettings, is_project
from jupyter_hds.policy.refusal import Refused
from support.datasets import write_dataset


@pytest.fixture
def settings(tmp_path):
    datasets = tmp_path / "datasets"
    write_dataset(datasets, "cohort", project="cohort-2024")
    write_dataset(datasets, "theirs", project="another-project")
    write_dataset(tmp_path / "outside", "escape", project="cohort-2024")
    (datasets / "escape").symlink_to(tmp_path / "outside" / "escape")
    (datasets / "a-file").write_text("not a folder")
    (datasets / "plain").mkdir()  # a folder copied by hand, never imported
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
        ("version-named", {**VALID, "dataset": "cohort@1"}, {"dataset": "cohort@1", "dataset_version": 1}),
        ("current-version", VALID, {"dataset_version": 1}),
        ("expires-today", {**VALID, "expires": "2026-11-28"}, {"expires": date(2026, 11, 28)}),
        # Whether that date has passed is the access rule's question (test_access).
        ("past-expiry", {**VALID, "expires": "2026-11-27"}, {"expires": date(2026, 11, 27)}),
        ("unknown-plan", {**VALID, "plan": "gold"}, "plan 'gold' is not defined; defined plans: private, public"),
        ("no-plan", {"dataset": "cohort"}, "set its `plan` property"),
        ("parent-dataset", {**VALID, "dataset": ".."}, "'..' cannot name a dataset"),
        ("dotdot-path", {**VALID, "dataset": "../etc"}, "'../etc' cannot name a dataset"),
        ("absolute", {**VALID, "dataset": "/etc"}, "'/etc' cannot name a dataset"),
        ("nested", {**VALID, "dataset": "cohort/sub"}, "cannot name a dataset"),
        ("dotted", {**VALID, "dataset": "v1.2"}, "cannot name a dataset"),
        ("uppercase", {**VALID, "dataset": "Cohort"}, "cannot name a dataset"),
        ("bad-version", {**VALID, "dataset": "cohort@0"}, "NAME@VERSION with VERSION 1, 2"),
        ("missing-version", {**VALID, "dataset": "cohort@7"}, "dataset cohort has no version 7; it has 1"),
        ("symlink-out", {**VALID, "dataset": "escape"}, "points outside"),
        ("not-a-folder", {**VALID, "dataset": "a-file"}, "there is no dataset 'a-file'"),
        ("never-imported", {**VALID, "dataset": "plain"}, "there is no dataset 'plain'"),
        ("missing", {**VALID, "dataset": "nowhere"}, "there is no dataset 'nowhere'"),
        ("another-projects", {**VALID, "dataset": "theirs"}, "theirs was imported for project 'another-project'"),
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
    for problem in ("fix its `plan` property", "fix its `dataset` property", "set `image`"):
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
