"""The quota settings the hub runs with, served to its quota services at `/hub/api/hds/quota`.

The idle culler and the usage service are separate processes: rather than re-running the
hub's configuration (and needing every variable it reads, secrets included), they ask the
hub, with their own token (scope `read:hub`), for the plans and folders it loaded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from traitlets.config import Config

from jupyter_hds.hub_api import HubAPI, HubAPIError
from jupyter_hds.projects import ProjectSettings

from .plans import Plans
from .settings import Quotas

PATH = "/hds/quota"


def settings_of(config: Config) -> dict[str, Any]:
    """What the quota services need from the hub's configuration."""
    plans, quotas = Plans(config=config), Quotas(config=config)
    return {
        "plans": plans.plans,
        "idle_timeout_floor": plans.idle_timeout_floor,
        "usage_dir": quotas.usage_dir,
        "volumes_root": quotas.volumes_root,
        "storage_root": ProjectSettings(config=config).storage_root,
    }


class QuotaSettingsHandler(APIHandler):
    """GET: the hub's plans and quota folders, as JSON."""

    @needs_scope("read:hub")
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(settings_of(self.settings["config"])))


@dataclass(frozen=True)
class HubQuotaSettings:
    """The settings as a quota service received them."""

    plans: Plans
    usage_dir: str
    volumes_root: str
    storage_root: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HubQuotaSettings:
        config = Config()
        config.Plans.plans = data["plans"]
        config.Plans.idle_timeout_floor = data["idle_timeout_floor"]
        return cls(
            Plans(config=config), data["usage_dir"], data["volumes_root"], data["storage_root"]
        )

    @classmethod
    def fetch(cls, api: HubAPI, wait: float = 60.0) -> HubQuotaSettings:
        """Ask the hub, retrying while it starts."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return cls.from_json(api.request("GET", PATH))
            except HubAPIError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
