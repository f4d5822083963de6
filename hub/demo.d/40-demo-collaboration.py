# `make up` only: user servers on subdomains of the hub's loopback name, so that members of the
# demo project can share their server and co-edit (docs/collaboration.md): sharing is refused
# without origin isolation (c.SharingPolicy.require_origin_isolation).
import os

c = get_config()  # noqa: F821 (injected by traitlets)

hub = os.environ.get("HDS_HUB_URL")
if not hub:
    raise RuntimeError("hub/demo.d is for `make up`: scripts/up.sh sets HDS_HUB_URL")
# http://hub.localhost:8000: names under .localhost are loopback (RFC 6761), browsers resolve
# them themselves; the proxy still listens on 127.0.0.1 (c.Deployment.public_url).
c.JupyterHub.subdomain_host = hub
