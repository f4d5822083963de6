"""jupyterhub-idle-culler config: cull each server after its project's plan's idle timeout.

The hub runs the culler as a service with `--config=<this file>`. The plans come from the
HDS settings the hub published; each project's plan from the hub's API (the culler's token).
"""

import asyncio

from hds_quota.culling import PlanIdleTimeouts
from hds_quota.plans import Plans
from hds_quota.settings import Quotas
from jupyter_hds import settings
from jupyter_hds.hub_api import HubAPI

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (injected by traitlets)


def _source():
    api, plans = HubAPI(), Plans(config=settings.load())
    timeouts = {plan.name: plan.idle_timeout for plan in plans.all()}

    def read() -> tuple[dict[str, int], dict[str, str]]:
        return dict(timeouts), {
            name: str((group.get("properties") or {}).get("plan", ""))
            for name, group in api.groups().items()
        }

    async def fetch() -> tuple[dict[str, int], dict[str, str]]:
        return await asyncio.to_thread(read)

    return fetch


c.IdleCuller.cull_every = Quotas(config=settings.load()).idle_check_interval
c.IdleCuller.cull_arbiter_hook = PlanIdleTimeouts(_source())
