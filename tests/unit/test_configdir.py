"""Operator config fragments: traitlets' own loader, sorted, merged over the shipped config."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_hds.configdir import ConfigDirError, config_fragments, operator_config


def test_fragments_merge_in_sorted_order_over_the_shipped_config(tmp_path):
    (tmp_path / "20-second.py").write_text(
        "c.Spawner.cmd = ['second']\nc.JupyterHub.services.append({'name': 'y'})\n"
    )
    (tmp_path / "10-first.py").write_text(
        "c.Spawner.cmd = ['first']\nc.Spawner.http_timeout = 5\n"
        "c.JupyterHub.services.append({'name': 'x'})\n"
        "c.JupyterHub.load_groups.update({'extra': {'users': []}})\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    config = Config()
    config.JupyterHub.services = [{"name": "shipped"}]
    config.JupyterHub.load_groups = {"shipped": {"users": ["a"]}}
    config.merge(operator_config({"HDS_CONFIG_DIR": str(tmp_path)}))
    assert config.Spawner.cmd == ["second"]  # the later fragment wins
    assert config.Spawner.http_timeout == 5
    assert [s["name"] for s in config.JupyterHub.services] == ["shipped", "x", "y"]
    assert sorted(config.JupyterHub.load_groups) == ["extra", "shipped"]


def test_unset_or_empty_variable_loads_nothing():
    assert config_fragments(None) == [] and config_fragments("") == []
    assert operator_config({}) == Config()


def test_missing_folder_is_an_error_not_silence(tmp_path):
    with pytest.raises(ConfigDirError, match="is not a folder"):
        config_fragments(tmp_path / "typo")


def test_an_error_in_a_fragment_names_the_file(tmp_path):
    (tmp_path / "50-broken.py").write_text("c.JupyterHub.port = undefined_name\n")
    with pytest.raises(NameError) as error:
        operator_config({"HDS_CONFIG_DIR": str(tmp_path)})
    assert "50-broken.py" in "".join(__import__("traceback").format_tb(error.value.__traceback__))
