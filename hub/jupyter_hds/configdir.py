"""Operator config fragments: every `*.py` in `$HDS_CONFIG_DIR`, merged after the shipped config.

Each fragment is loaded by traitlets' own config-file loader (as `load_subconfig` does, and
tljh over `jupyterhub_config.d`): it starts from an empty config and is merged into the
hub's, in sorted order. A fragment sets values (`c.Plans.plans.update(...)`,
`c.JupyterHub.services.append(...)` extend what is shipped); it does not read them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

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


def operator_config(environ: Mapping[str, str] | None = None) -> Config:
    """Every fragment named by `$HDS_CONFIG_DIR`, loaded and merged in order."""
    environ = os.environ if environ is None else environ
    config = Config()
    for fragment in config_fragments(environ.get(ENV_VAR)):
        config.merge(PyFileConfigLoader(fragment.name, str(fragment.parent)).load_config())
    return config
