"""Operator config fragments: sorted, applied over the shipped config, typos caught."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_hds.configdir import ConfigDirError, config_fragments, load_fragments


def test_fragments_run_in_sorted_order_over_the_live_config(tmp_path):
    (tmp_path / "20-second.py").write_text("c.Spawner.cmd = c.Spawner.cmd + ['second']\n")
    (tmp_path / "10-first.py").write_text(
        "c.Spawner.cmd = ['first']\nc.JupyterHub.services.append({'name': 'x'})\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    config = Config()
    config.JupyterHub.services = [{"name": "shipped"}]
    loaded = load_fragments(config, {"HDS_CONFIG_DIR": str(tmp_path)})
    assert [p.name for p in loaded] == ["10-first.py", "20-second.py"]
    assert config.Spawner.cmd == ["first", "second"]
    assert [s["name"] for s in config.JupyterHub.services] == ["shipped", "x"]


def test_unset_or_empty_variable_loads_nothing():
    assert config_fragments(None) == [] and config_fragments("") == []


def test_missing_folder_is_an_error_not_silence(tmp_path):
    with pytest.raises(ConfigDirError, match="is not a folder"):
        config_fragments(tmp_path / "typo")


def test_an_error_in_a_fragment_names_the_file(tmp_path):
    (tmp_path / "50-broken.py").write_text("c.JupyterHub.port = undefined_name\n")
    with pytest.raises(NameError) as error:
        load_fragments(Config(), {"HDS_CONFIG_DIR": str(tmp_path)})
    assert "50-broken.py" in "".join(__import__("traceback").format_tb(error.value.__traceback__))
