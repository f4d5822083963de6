"""Project onboarding for scripts: create, show, check, change and close projects (hub API)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from traitlets.config import Config, PyFileConfigLoader

from hds_quota.plans import Plans

from .hub_api import HubAPI, HubAPIError
from .projects import PROJECT_NAME, ProjectRefused, ProjectSettings, is_project

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "jupyterhub_config.py"


def load_hub_config(path: str | None = None) -> Config:
    """The hub's own configuration (shipped file plus $HDS_CONFIG_DIR): checks match the hub's."""
    config_file = Path(path or os.environ.get("HDS_HUB_CONFIG") or SHIPPED_CONFIG)
    if not config_file.is_file():
        raise FileNotFoundError(
            f"no hub config at {config_file}; pass --hub-config or set HDS_HUB_CONFIG"
        )
    return PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()


@dataclass
class ProjectAdmin:
    api: HubAPI
    settings: ProjectSettings
    plans: Plans

    @classmethod
    def from_environment(cls, hub_config: str | None = None) -> ProjectAdmin:
        config = load_hub_config(hub_config)
        return cls(HubAPI(), ProjectSettings(config=config), Plans(config=config))

    def problems(self, name: str, properties: dict[str, Any]) -> str:
        """Empty when the project could start today, else the message a member would see."""
        try:
            self.settings.parse(name, properties, self.plans, date.today())
        except ProjectRefused as refused:
            return str(refused)
        return ""

    def create(self, name: str, properties: dict[str, str], members: list[str]) -> None:
        """Create a project, checked first: nothing is created when anything is wrong."""
        if not PROJECT_NAME.match(name):
            raise ValueError(
                f"{name!r} cannot be a project name: lowercase letters, digits and hyphens, "
                "at most 30 characters"
            )
        problem = self.problems(name, properties)
        if problem:
            raise ValueError(problem)
        if name in self.api.groups():
            raise ValueError(f"project {name!r} exists already; use `hds project set` to change it")
        existing = {user["name"] for user in self.api.paginate("/users")}
        for member in members:
            if member not in existing:
                self.api.request("POST", f"/users/{member}", ok=(201,))
        self.api.request("POST", f"/groups/{name}", ok=(201,))
        self.api.request("PUT", f"/groups/{name}/properties", json=properties)
        if members:
            self.api.request("POST", f"/groups/{name}/users", json={"users": members})

    def project(self, name: str) -> dict[str, Any]:
        group = self.api.groups().get(name)
        if group is None or not is_project(group.get("properties") or {}):
            raise ValueError(f"there is no project named {name!r}")
        return group

    def set_properties(self, name: str, changes: dict[str, str]) -> dict[str, Any]:
        """Change properties (an empty value removes one), checked before anything is written."""
        properties = dict(self.project(name).get("properties") or {})
        properties.update(changes)
        properties = {key: value for key, value in properties.items() if value != ""}
        problem = self.problems(name, properties)
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


__all__ = ["HubAPIError", "ProjectAdmin", "load_hub_config"]
