"""The airlock's part of the hub config: idempotent, its role's scope defined, its pages found."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from jupyter_hds.airlock import config as airlock
from jupyter_hds.airlock.handlers import REVIEW_SCOPE
from jupyter_hds.deployment import Deployment


def configured(tmp_path, times: int = 1) -> Config:
    c = Config()
    for _ in range(times):
        airlock.configure(c, Deployment(state_dir=str(tmp_path)))
    return c


def test_configure_is_idempotent(tmp_path):
    assert repr(configured(tmp_path)) == repr(configured(tmp_path, times=2))


def test_the_checkers_role_holds_the_review_scope_and_nothing_else(tmp_path):
    c = configured(tmp_path)
    (role,) = c.JupyterHub.load_roles
    assert (role["name"], role["scopes"], role["groups"]) == (
        "output-checker", [REVIEW_SCOPE], ["output-checkers"])  # fmt: skip
    assert REVIEW_SCOPE in c.JupyterHub.custom_scopes
    # The group comes with its role (no load_groups: refused when the provider owns groups).
    assert "load_groups" not in c.JupyterHub


def test_routes_and_templates(tmp_path):
    c = configured(tmp_path)
    patterns = [h[0] for h in c.JupyterHub.extra_handlers]
    assert r"/api/hds/airlock/requests" in patterns and r"/hds/airlock" in patterns
    (folder,) = c.JupyterHub.template_paths
    names = {p.name for p in Path(folder).iterdir()}
    assert {"airlock.html", "airlock-request.html", "airlock-base.html"} <= names
