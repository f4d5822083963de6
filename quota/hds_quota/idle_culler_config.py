"""jupyterhub-idle-culler config: cull each server after its project's plan's idle timeout.

The hub runs the culler as a service with `--config=<this file>`; the plans come from the
hub's own configuration (the shipped file plus $HDS_CONFIG_DIR).
"""

from hds_quota.culling import PlanIdleTimeouts, hub_groups
from hds_quota.plans import Plans
from jupyter_hds.project_admin import load_hub_config

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (injected by traitlets)

timeouts = PlanIdleTimeouts.from_plans(Plans(config=load_hub_config()), hub_groups())
c.IdleCuller.cull_arbiter_hook = timeouts
c.IdleCuller.timeout = timeouts.shortest
