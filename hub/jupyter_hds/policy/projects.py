"""Projects: hub groups whose properties say which plan, dataset and image they use, checked."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from traitlets import Dict, Integer, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from hds_quota.plans import Plan, Plans

from .refusal import Refused

# JupyterHub 6 named servers: lowercase letters, digits, hyphens, at most 30 characters.
PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
DATASET_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]|\.(?!\.)){0,62}$")
# A group is a project when it has one of these; other groups (auditors, ...) are left alone.
MARKER_PROPERTIES = ("plan", "dataset")
PROPERTIES = {
    "plan": "the plan's name",
    "dataset": "the dataset folder's name under the datasets root",
    "image": "optional: an image name from c.ProjectSettings.images",
    "expires": "optional: last day of access, YYYY-MM-DD",
    "description": "optional: one line shown to members",
}


def cannot_start(project: str, reason: str, why: str, admin_fix: str = "") -> Refused:
    """The refusal of a server of `project`, as its member reads it on the hub."""
    fix = f"An administrator must {admin_fix}." if admin_fix else ""
    return Refused(reason, f"Project '{project}' cannot start: {why}.", fix)


@dataclass(frozen=True)
class Project:
    """A project's settings once checked: everything a spawner needs, nothing from the user."""

    name: str
    plan: Plan
    dataset: str
    dataset_path: Path
    image: str
    expires: date | None
    description: str


def is_project(properties: Mapping[str, Any]) -> bool:
    return any(key in properties for key in MARKER_PROPERTIES)


def expiry(properties: Mapping[str, Any]) -> date | None:
    """The project's last day of access (None: no end); ValueError when it is unreadable.

    Starting, sharing and the guard all treat an unreadable expiry as no access."""
    value = properties.get("expires")
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"write `expires` as YYYY-MM-DD, not {value!r}") from None


class ProjectSettings(LoggingConfigurable):
    """Which images projects may use, and the unprivileged ids their servers run as.

    Where datasets and projects' files live is the hub's state layout (`Deployment`).
    """

    default_image = Unicode(
        help="""Image of a project that sets no `image` property. Default: $HDS_SINGLEUSER_IMAGE
        (what `make images` builds), else jupyter-hds/singleuser:latest.""",
    ).tag(config=True)

    images = Dict(
        value_trait=Unicode(),
        help="""Images a project may choose with its `image` property: name -> image reference,
        e.g. {"r-stats": "jupyter-hds/singleuser-r:2026.1"}. A name not listed is refused.""",
    ).tag(config=True)

    uid = Integer(1000, help="uid user servers run as and that owns projects' files.").tag(
        config=True
    )
    gid = Integer(1000, help="gid user servers run as and that owns projects' files.").tag(
        config=True
    )

    @default("default_image")
    def _default_image(self):
        return os.environ.get("HDS_SINGLEUSER_IMAGE") or "jupyter-hds/singleuser:latest"

    @validate("uid", "gid")
    def _not_root(self, proposal):
        if proposal.value == 0:
            raise ValueError("user servers never run as root; use an unprivileged id like 1000")
        return proposal.value


@dataclass(frozen=True)
class ProjectRules:
    """What a project's properties are checked against: the plans, images and datasets."""

    plans: Plans
    settings: ProjectSettings
    datasets_root: Path

    def parse(self, name: str, properties: Mapping[str, Any]) -> Project:
        """Check a project's properties; raise Refused naming every problem to fix.

        Whether the project is open today, and to whom, is `access.check_access`'s answer."""
        problems = []
        if not PROJECT_NAME.match(name):
            problems.append(
                f"rename the group '{name}': project names are lowercase letters, digits and "
                "hyphens, at most 30 characters"
            )
        unknown = sorted(set(properties) - set(PROPERTIES))
        if unknown:
            known = "; ".join(f"{k} ({v})" for k, v in PROPERTIES.items())
            problems.append(f"remove unknown properties {', '.join(unknown)} (known: {known})")
        plan = self._plan(properties, problems)
        dataset, dataset_path = self._dataset(properties, problems)
        image = self._image(properties, problems)
        expires = self._expires(properties, problems)
        if problems:
            raise cannot_start(
                name, "invalid-project", "its settings are invalid", "; ".join(problems)
            )
        return Project(
            name=name,
            plan=plan,
            dataset=dataset,
            dataset_path=dataset_path,
            image=image,
            expires=expires,
            description=str(properties.get("description", "")),
        )

    def _plan(self, properties, problems: list[str]) -> Plan:
        plans = self.plans
        if not properties.get("plan"):
            problems.append(f"set its `plan` property (defined plans: {', '.join(plans.plans)})")
            return None  # type: ignore[return-value]
        try:
            return plans.get(str(properties["plan"]))
        except ValueError as error:
            problems.append(f"fix its `plan` property: {error}")
            return None  # type: ignore[return-value]

    def _dataset(self, properties, problems: list[str]) -> tuple[str, Path]:
        name = str(properties.get("dataset", ""))
        root = Path(self.datasets_root).resolve()
        if not name:
            problems.append("set its `dataset` property to a dataset folder's name")
        elif not DATASET_NAME.match(name):
            problems.append(
                f"set its `dataset` property to a plain folder name, not {name!r} "
                "(lowercase letters, digits, '-', '_', '.'; no path)"
            )
        else:
            path = (root / name).resolve()
            if path.parent != root:
                problems.append(f"dataset {name!r} points outside {root} (a link?); replace it")
            elif not path.is_dir():
                problems.append(f"create the dataset folder {root / name} or fix the `dataset`")
            else:
                return name, path
        return name, root / "-invalid-"

    def _image(self, properties, problems: list[str]) -> str:
        settings = self.settings
        name = properties.get("image")
        if not name:
            return settings.default_image
        if name not in settings.images:
            allowed = ", ".join(sorted(settings.images)) or "none are configured"
            problems.append(f"set `image` to an allowed image name ({allowed}) or remove it")
            return ""
        return settings.images[name]

    def _expires(self, properties, problems: list[str]) -> date | None:
        try:
            return expiry(properties)
        except ValueError as error:
            problems.append(str(error))
            return None
