"""Projects: JupyterHub groups whose properties say which plan, dataset and image they use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from traitlets import Dict, Integer, Unicode, validate
from traitlets.config import LoggingConfigurable

from hds_quota.plans import Plan, Plans

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


class ProjectRefused(Exception):
    """A server for this project must not start; `str()` is the message shown to the user."""

    def __init__(self, project: str, why: str, fix: str = "", reason: str = "project"):
        self.project, self.why, self.fix, self.reason = project, why, fix, reason
        message = f"Project '{project}' cannot start: {why}."
        if fix:
            message += f" An administrator must {fix}."
        super().__init__(message)


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

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


def is_project(properties: dict[str, Any]) -> bool:
    return any(key in properties for key in MARKER_PROPERTIES)


def expiry(properties: dict[str, Any]) -> date | None:
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
    """Where projects' data lives and which images they may use."""

    datasets_root = Unicode(
        "/var/lib/jupyter-hds/datasets",
        help="Folder holding one folder per dataset; a project's `dataset` property names one.",
    ).tag(config=True)

    storage_root = Unicode(
        "/var/lib/jupyter-hds/projects",
        help="Folder holding each project's shared folder and its members' own spaces.",
    ).tag(config=True)

    default_image = Unicode(
        "jupyter-hds/singleuser:latest",
        help="Image of a project that sets no `image` property.",
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

    @validate("uid", "gid")
    def _not_root(self, proposal):
        if proposal.value == 0:
            raise ValueError("user servers never run as root; use an unprivileged id like 1000")
        return proposal.value

    def parse(self, name: str, properties: dict[str, Any], plans: Plans, today: date) -> Project:
        """Check a project's properties; raise ProjectRefused naming every problem to fix."""
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
        plan = self._plan(properties, plans, problems)
        dataset, dataset_path = self._dataset(properties, problems)
        image = self._image(properties, problems)
        expires = self._expires(properties, problems)
        if problems:
            raise ProjectRefused(
                name, "its settings are invalid", "; ".join(problems), reason="invalid-project"
            )
        project = Project(
            name=name,
            plan=plan,
            dataset=dataset,
            dataset_path=dataset_path,
            image=image,
            expires=expires,
            description=str(properties.get("description", "")),
        )
        if project.expired(today):
            raise ProjectRefused(
                name,
                f"it expired on {project.expires}",
                "extend its `expires` property or close it",
                reason="expired",
            )
        return project

    def _plan(self, properties, plans: Plans, problems: list[str]) -> Plan:
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
        name = properties.get("image")
        if not name:
            return self.default_image
        if name not in self.images:
            allowed = ", ".join(sorted(self.images)) or "none are configured"
            problems.append(f"set `image` to an allowed image name ({allowed}) or remove it")
            return ""
        return self.images[name]

    def _expires(self, properties, problems: list[str]) -> date | None:
        try:
            return expiry(properties)
        except ValueError as error:
            problems.append(str(error))
            return None


def project_for_server(
    settings: ProjectSettings,
    server_name: str,
    properties: dict[str, Any] | None,
    is_member: bool,
    plans: Plans,
    today: date,
) -> Project:
    """The project a server named `server_name` belongs to, for a user; or ProjectRefused.

    `properties` are the group's (None when no group has that name); `is_member` says
    whether the server's owner is in it.
    """
    if not server_name:
        raise ProjectRefused(
            "(none)", "every server belongs to a project; open one from the home page",
            reason="no-project",
        )  # fmt: skip
    if properties is None:
        raise ProjectRefused(server_name, "there is no such project", reason="no-project")
    if not is_member:
        raise ProjectRefused(
            server_name, "you are not a member of this project",
            "add you to the project's group if you should be", reason="not-member",
        )  # fmt: skip
    if not is_project(properties):
        raise ProjectRefused(
            server_name, "this group is not set up as a project",
            "set its `plan` and `dataset` properties", reason="not-a-project",
        )  # fmt: skip
    return settings.parse(server_name, properties, plans, today)
