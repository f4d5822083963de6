"""Project onboarding for scripts: create, show, check, change and close projects (hub API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from traitlets.config import Config

from hds_quota.plans import Plans

from .. import settings
from ..datasets.store import DatasetStore
from ..deployment import Deployment
from ..hub_api import HubAPI
from ..policy.access import ProjectFacts, project_problem
from ..policy.projects import PROJECT_NAME, ProjectRules, ProjectSettings, is_project
from ..policy.refusal import Refused


@dataclass
class ProjectAdmin:
    api: HubAPI
    rules: ProjectRules

    @classmethod
    def from_settings(cls, config: Config | None = None) -> ProjectAdmin:
        """Checked with the settings the hub runs with (its published settings file)."""
        config = settings.load() if config is None else config
        rules = ProjectRules(
            Plans(config=config), ProjectSettings(config=config), Deployment(config=config).datasets
        )
        return cls(HubAPI(), rules)

    def problems(self, name: str, group: dict[str, Any]) -> str:
        """Empty when the project could start today, else the message a member would see."""
        facts = ProjectFacts.of(name, group.get("properties"), group.get("users") or ())
        return project_problem(self.rules, None, name, facts, date.today())

    def create(self, name: str, properties: dict[str, str], members: list[str]) -> None:
        """Create a project, checked first: nothing is created when anything is wrong."""
        if not PROJECT_NAME.match(name):
            raise ValueError(
                f"{name!r} cannot be a project name: lowercase letters, digits and hyphens, "
                "at most 30 characters"
            )
        try:  # its dataset may come later: it is imported for the project, once it exists
            self.rules.parse(name, properties, onboarding=True)
        except Refused as refused:
            raise ValueError(str(refused)) from None
        if name in self.api.groups():
            raise ValueError(f"project {name!r} exists already; use `hds project set` to change it")
        existing = {user["name"] for user in self.api.paginate("/users")}
        for member in members:
            if member not in existing:
                # The hosting team's way to add people (its role has no admin:users).
                self.api.request("PUT", f"/hds/users/{member}", ok=(201,))
        self.api.request("POST", f"/groups/{name}", ok=(201,))
        self.api.request("PUT", f"/groups/{name}/properties", json=properties)
        if members:
            self.api.request("POST", f"/groups/{name}/users", json={"users": members})

    def dataset_version(self, group: dict[str, Any]) -> int | None:
        """The dataset version the project's members see now (None when it has none)."""
        reference = (group.get("properties") or {}).get("dataset")
        if not reference:
            return None
        try:
            return DatasetStore(self.rules.datasets_root).get(str(reference)).version
        except (ValueError, FileNotFoundError):
            return None

    def project(self, name: str) -> dict[str, Any]:
        group = self.api.groups().get(name)
        if group is None or not is_project(group.get("properties") or {}):
            raise ValueError(f"there is no project named {name!r}")
        return group

    def set_properties(self, name: str, changes: dict[str, str]) -> dict[str, Any]:
        """Change properties (an empty value removes one), checked before anything is written."""
        group = self.project(name)
        properties = dict(group.get("properties") or {})
        properties.update(changes)
        properties = {key: value for key, value in properties.items() if value != ""}
        problem = self.problems(name, {**group, "properties": properties})
        if problem:
            raise ValueError(problem)
        self.api.request("PUT", f"/groups/{name}/properties", json=properties)
        return properties

    def running(self, name: str) -> list[str]:
        return [user for user, server in self.api.active_servers() if server == name]

    def close(self, name: str) -> list[str]:
        """Stop the project's servers and delete its group; its files stay on disk."""
        self.project(name)
        stopped = self.running(name)
        for user in stopped:
            self.api.request("DELETE", f"/users/{user}/servers/{name}", ok=(202, 204, 404))
        self.api.request("DELETE", f"/groups/{name}", ok=(204,))
        return stopped

    def projects(self) -> dict[str, dict[str, Any]]:
        return {n: g for n, g in self.api.groups().items() if is_project(g.get("properties") or {})}
