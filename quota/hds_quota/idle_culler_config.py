"""jupyterhub-idle-culler config: cull each server after its project's plan's idle timeout.

The hub runs the culler as a service with `--config=<this file>`. The plans and each
project's plan come from the hub's API, with the culler's own token.
"""

from hds_quota.culling import PlanIdleTimeouts, hub_source

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (injected by traitlets)

c.IdleCuller.cull_arbiter_hook = PlanIdleTimeouts(hub_source())
