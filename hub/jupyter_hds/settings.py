"""The HDS settings the hub runs with, shared with its services and the `hds` command.

Only the hub reads its configuration (the shipped page and the operator's fragments). At
each start it writes the resolved values of HDS's own configurable classes to the state
folder (`Deployment.settings_file`); its services and the `hds` command load that file as
their traitlets config. Settings reach every process this one way, secrets never among them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from traitlets.config import Config, Configurable, JSONFileConfigLoader

from hds_quota.plans import Plans
from hds_quota.settings import Quotas

from .audit.report import AccessReport
from .backup.config import Backup
from .deployment import Deployment
from .policy.airlock import Airlock
from .policy.projects import ProjectSettings
from .policy.sharing import SharingPolicy

# The classes whose settings every process of the hub shares; a subsystem that adds one
# lists it here. Their config traits must hold JSON values (no callables).
SHARED: list[type[Configurable]] = [
    Deployment, Plans, Quotas, ProjectSettings, SharingPolicy, Airlock, Backup, AccessReport,
]  # fmt: skip


class SettingsMissing(FileNotFoundError):
    """No settings file: the hub has not started with this state folder yet."""


def resolve(config: Config) -> dict[str, dict[str, Any]]:
    """Every shared class's config traits, as the hub resolves them from `config`."""
    resolved = {}
    for cls in SHARED:
        instance = cls(config=config)
        values = {name: getattr(instance, name) for name in cls.class_trait_names(config=True)}
        try:
            json.dumps(values)
        except TypeError as error:
            raise TypeError(f"{cls.__name__}: settings shared with services must be JSON "
                            f"values ({error})") from None  # fmt: skip
        resolved[cls.__name__] = values
    return resolved


def publish(config: Config) -> Path:
    """Write the resolved settings where services and `hds` read them (root-only, atomic)."""
    path = Deployment(config=config).settings_file
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        json.dump(resolve(config), stream, indent=2, sort_keys=True)
    os.replace(partial, path)
    return path


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """The settings the hub last started with, as a traitlets Config."""
    path = Path(path) if path else Deployment().settings_file
    if not path.is_file():
        raise SettingsMissing(
            f"no HDS settings at {path}: start the hub once with this state folder "
            "(HDS_STATE_DIR), or pass the settings file"
        )
    return JSONFileConfigLoader(path.name, str(path.parent)).load_config()
