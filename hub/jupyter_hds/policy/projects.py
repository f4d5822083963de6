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

from ..datasets.store import DatasetStore
from .refusal import Refused
from .text import Joined, Text

# JupyterHub 6 named servers: lowercase letters, digits, hyphens, at most 30 characters.
PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
# A group is a project when it has one of these; other groups (auditors, ...) are left alone.
MARKER_PROPERTIES = ("plan", "dataset")
PROPERTIES = {
    "plan": Text("the plan's name"),
    "dataset": Text("the dataset imported for this project: NAME or NAME@VERSION"),
    "image": Text("optional: an image name from c.ProjectSettings.images"),
    "expires": Text("optional: last day of access, YYYY-MM-DD"),
    "description": Text("optional: one line shown to members"),
}


class BadProperty(ValueError):
    """A property that cannot be read; `text` says what to write instead."""

    def __init__(self, text: Text):
        self.text = text
        super().__init__(str(text))


def cannot_start(project: str, reason: str, why: Text, admin_fix: Text | None = None) -> Refused:
    """The refusal of a server of `project`, as its member reads it on the hub."""
    fix = Text("An administrator must {fix}.", fix=admin_fix) if admin_fix else ""
    return Refused(reason, Text("Project '{project}' cannot start: {why}.", project=project,
                                why=why), fix)  # fmt: skip


@dataclass(frozen=True)
class Project:
    """A project's settings once checked: everything a spawner needs, nothing from the user."""

    name: str
    plan: Plan
    dataset: str
    dataset_path: Path  # the version folder its servers mount
    dataset_version: int | None
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
        raise BadProperty(
            Text("write `expires` as YYYY-MM-DD, not {value}", value=repr(value))
        ) from None


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

    def parse(self, name: str, properties: Mapping[str, Any], onboarding: bool = False) -> Project:
        """Check a project's properties; raise Refused naming every problem to fix.

        `onboarding`: a project may be written without its `dataset` while its dataset is
        imported (the import needs the project to exist); it cannot start until it has one.
        Whether the project is open today, and to whom, is `access.check_access`'s answer."""
        problems: list[Text] = []
        if not PROJECT_NAME.match(name):
            problems.append(Text(
                "rename the group '{name}': project names are lowercase letters, digits and "
                "hyphens, at most 30 characters", name=name,
            ))  # fmt: skip
        unknown = sorted(set(properties) - set(PROPERTIES))
        if unknown:
            known = Joined(
                Text("{key} ({meaning})", key=k, meaning=v) for k, v in PROPERTIES.items()
            )
            problems.append(Text("remove unknown properties {unknown} (known: {known})",
                                 unknown=", ".join(unknown), known=known))  # fmt: skip
        plan = self._plan(properties, problems)
        if onboarding and not properties.get("dataset"):
            dataset, dataset_path, version = "", Path(self.datasets_root) / "-none-", None
        else:
            dataset, dataset_path, version = self._dataset(name, properties, problems)
        image = self._image(properties, problems)
        expires = self._expires(properties, problems)
        if problems:
            raise cannot_start(
                name, "invalid-project", Text("its settings are invalid"), Joined(problems)
            )
        return Project(
            name=name,
            plan=plan,
            dataset=dataset,
            dataset_path=dataset_path,
            dataset_version=version,
            image=image,
            expires=expires,
            description=str(properties.get("description", "")),
        )

    def _plan(self, properties, problems: list[Text]) -> Plan:
        plans = self.plans
        if not properties.get("plan"):
            problems.append(Text("set its `plan` property (defined plans: {plans})",
                                 plans=", ".join(plans.plans)))  # fmt: skip
            return None  # type: ignore[return-value]
        name = str(properties["plan"])
        if name not in plans.plans:
            problems.append(Text(
                "fix its `plan` property: plan {plan} is not defined; defined plans: {plans}",
                plan=repr(name), plans=", ".join(sorted(plans.plans)),
            ))  # fmt: skip
            return None  # type: ignore[return-value]
        try:
            return plans.get(name)
        except ValueError as error:  # the operator's plan itself is wrong
            problems.append(Text("fix its `plan` property: {error}", error=str(error)))
            return None  # type: ignore[return-value]

    def _dataset(
        self, project: str, properties, problems: list[Text]
    ) -> tuple[str, Path, int | None]:
        """The dataset version the project's servers mount: imported, and for this project
        (its pseudonyms come from this project's key; another project's would let the two
        link their data)."""
        reference = str(properties.get("dataset", ""))
        nowhere = (reference, Path(self.datasets_root) / "-invalid-", None)
        if not reference:
            problems.append(Text("set its `dataset` property to a dataset imported for it"))
            return nowhere
        try:
            version = DatasetStore(self.datasets_root).get(reference)
        except ValueError as error:
            problems.append(Text("fix its `dataset` property (NAME or NAME@VERSION): {error}",
                                 error=str(error)))  # fmt: skip
            return nowhere
        except FileNotFoundError as error:
            problems.append(Text("import the dataset with hds dataset import, or fix its "
                                 "`dataset` property: {error}", error=str(error)))  # fmt: skip
            return nowhere
        imported_for = version.manifest.get("project")
        if imported_for != project:
            problems.append(Text(
                "name a dataset imported for {project}: {reference} was imported for project "
                "{other}, with that project's key", project=project, reference=reference,
                other=repr(imported_for),
            ))  # fmt: skip
            return nowhere
        return reference, version.path, version.version

    def _image(self, properties, problems: list[Text]) -> str:
        settings = self.settings
        name = properties.get("image")
        if not name:
            return settings.default_image
        if name not in settings.images:
            allowed = ", ".join(sorted(settings.images)) or Text("none are configured")
            problems.append(Text("set `image` to an allowed image name ({allowed}) or remove it",
                                 allowed=allowed))  # fmt: skip
            return ""
        return settings.images[name]

    def _expires(self, properties, problems: list[Text]) -> date | None:
        try:
            return expiry(properties)
        except BadProperty as error:
            problems.append(error.text)
            return None
