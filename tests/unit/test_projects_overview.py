"""The projects overview's rows: figures against plan limits, problems, sorting."""

from __future__ import annotations

from datetime import date

from traitlets.config import Config

from hds_quota.plans import Plans
from jupyter_hds.policy.access import ProjectFacts
from jupyter_hds.policy.projects import ProjectRules, ProjectSettings
from jupyter_hds.projects.overview import overview_rows, sort_rows
from support.datasets import write_dataset

TODAY = date(2026, 11, 28)
G = 1024**3


def rules(tmp_path, *projects):
    for name in projects:
        write_dataset(tmp_path, name)
    config = Config()
    config.ProjectSettings.default_image = "img"
    return ProjectRules(Plans(), ProjectSettings(config=config), tmp_path)


def test_rows_carry_figures_against_their_plans_limits(tmp_path):
    projects = [
        ProjectFacts.of("alpha", {"plan": "public", "dataset": "alpha"}, ["a", "b"]),
        ProjectFacts.of("beta", {"plan": "gold", "dataset": "beta"}, ["c"]),
        ProjectFacts.of(
            "gamma", {"plan": "private", "dataset": "gamma", "expires": "2026-11-01"}, []
        ),  # fmt: skip
    ]
    rows = overview_rows(projects, rules(tmp_path, "alpha", "beta", "gamma"), {"alpha": 2}, {"alpha": 3 * G},
                         {"alpha": 12.345, "gamma": 1.0}, TODAY)  # fmt: skip
    alpha, beta, gamma = rows
    assert (alpha.members, alpha.members_limit, alpha.running) == (2, 10, 2)
    assert (alpha.storage_used, alpha.storage_limit) == (3 * G, 20 * G)
    assert (alpha.cpu_used, alpha.cpu_budget, alpha.problem) == (12.35, 200, "")
    assert beta.members_limit is None and "plan 'gold' is not defined" in beta.problem
    assert gamma.storage_used is None and "ended on 2026-11-01" in gamma.problem


def test_sorting_puts_missing_values_last_either_way(tmp_path):
    projects = [ProjectFacts.of(n, {"plan": "public", "dataset": n}, []) for n in "abc"]
    rows = overview_rows(
        projects, rules(tmp_path, "a", "b", "c"), {}, {"a": 5, "b": None, "c": 9}, {}, TODAY
    )
    assert [r.name for r in sort_rows(rows, "storage_used", False)] == ["a", "c", "b"]
    assert [r.name for r in sort_rows(rows, "storage_used", True)] == ["c", "a", "b"]
    assert [r.name for r in sort_rows(rows, "nonsense", True)] == ["c", "b", "a"]  # by name
