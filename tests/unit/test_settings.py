"""The settings the hub publishes for its services and the `hds` command: resolved, JSON, private."""

from __future__ import annotations

import stat

import pytest
from traitlets.config import Config

from hds_quota.plans import Plans
from jupyter_hds import settings
from jupyter_hds.deployment import Deployment
from jupyter_hds.policy.projects import ProjectSettings


def hub_config(tmp_path) -> Config:
    config = Config()
    config.Deployment.state_dir = str(tmp_path)
    config.Plans.plans.update({"short": {**Plans().plans["public"], "idle_timeout": 400}})
    config.ProjectSettings.images = {"r": "jupyter-hds/r:1"}
    config.JupyterHub.cookie_secret = "never-published"
    return config


def test_what_the_hub_resolves_is_what_services_load(tmp_path):
    config = hub_config(tmp_path)
    path = settings.publish(config)
    assert path == tmp_path / "hds-settings.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = settings.load(path)
    assert Plans(config=loaded).all() == Plans(config=config).all()
    assert Plans(config=loaded).get("short").idle_timeout == 400
    assert ProjectSettings(config=loaded).images == {"r": "jupyter-hds/r:1"}
    assert Deployment(config=loaded).state_dir == str(tmp_path)
    assert "never-published" not in path.read_text() and "JupyterHub" not in loaded


def test_a_setting_that_is_not_a_json_value_is_refused_by_name(tmp_path):
    config = hub_config(tmp_path)
    config.Deployment.ports = {("audit", 1): 18082}
    with pytest.raises(TypeError, match="Deployment: settings shared with services must be JSON"):
        settings.resolve(config)


def test_no_settings_file_says_to_start_the_hub_first(tmp_path):
    with pytest.raises(settings.SettingsMissing, match="start the hub once"):
        settings.load(tmp_path / "hds-settings.json")
