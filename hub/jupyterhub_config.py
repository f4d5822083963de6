"""Jupyter HDS hub configuration: where the hub lives, then each subsystem configures itself.

Operators never edit this file: they set values in *.py fragments of $HDS_CONFIG_DIR
(docs/operating.md), merged last, so they win. State goes to c.Deployment.state_dir
($HDS_STATE_DIR, default /var/lib/jupyter-hds).
"""

from jupyter_hds import branding, data_guard, i18n, origins, settings
from jupyter_hds.airlock import config as airlock
from jupyter_hds.audit import config as audit
from jupyter_hds.configdir import operator_config
from jupyter_hds.datasets import config as datasets
from jupyter_hds.deployment import Deployment
from jupyter_hds.oidc import config as login
from jupyter_hds.projects import config as projects
from jupyter_hds.projects import firewall
from jupyter_hds.sharing import config as sharing
from jupyter_hds.terms import config as terms
from jupyter_hds.usage import config as usage

c = get_config()  # noqa: F821 (injected by traitlets)
operator = operator_config()
deployment = Deployment(config=operator)

# Browsers reach the proxy; user servers reach the hub API at their network's gateway, and
# the host firewall refuses that port to every other interface but loopback.
c.JupyterHub.bind_url = deployment.public_url
c.JupyterHub.hub_bind_url = f"http://0.0.0.0:{deployment.hub_port}"
firewall.guard_starting_hub(deployment.hub_port)
c.JupyterHub.db_url = deployment.db_url
c.JupyterHub.cookie_secret_file = str(deployment.state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(deployment.state / "jupyterhub-proxy.pid")

SUBSYSTEMS = (
    projects, datasets, data_guard, login, audit, usage, sharing, airlock, terms, i18n, branding,
    origins,
)  # fmt: skip
for subsystem in SUBSYSTEMS:
    subsystem.configure(c, deployment)

c.merge(operator)
settings.publish(c)
