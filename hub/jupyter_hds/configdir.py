"""Operator config fragments: every `*.py` in `$HDS_CONFIG_DIR`, loaded after the shipped config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "HDS_CONFIG_DIR"


class ConfigDirError(ValueError):
    """The operator's config folder cannot be used as given."""


def config_fragments(folder: str | os.PathLike[str] | None) -> list[Path]:
    """Return the `*.py` files of `folder` in sorted order; none when `folder` is unset or empty.

    A folder that is named but does not exist is an error: a typo in the variable must not
    silently drop the operator's settings.
    """
    if not folder:
        return []
    path = Path(folder)
    if not path.is_dir():
        raise ConfigDirError(f"{ENV_VAR}={folder!s} is not a folder; create it or unset {ENV_VAR}")
    return sorted(p for p in path.glob("*.py") if p.is_file())


def load_fragments(config, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Run every fragment named by `$HDS_CONFIG_DIR` against the hub's live `config`.

    Fragments see the shipped values (unlike traitlets' `load_subconfig`, which starts each
    file from an empty config), so they can extend lists such as `c.JupyterHub.services`.
    """
    environ = os.environ if environ is None else environ
    fragments = config_fragments(environ.get(ENV_VAR))
    for fragment in fragments:
        namespace = {"c": config, "get_config": lambda: config, "__file__": str(fragment)}
        code = compile(fragment.read_bytes(), str(fragment), "exec")
        exec(code, namespace)  # noqa: S102 (an operator's config file, like jupyterhub_config.py)
    return fragments
