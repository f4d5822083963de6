"""The public proxy as its own service (jupyter-hds-proxy.service): configurable-http-proxy
started with the addresses the hub is configured with, so it outlives hub restarts.

The hub, run with `--ConfigurableHTTPProxy.should_start=False`, talks to it at
`c.ConfigurableHTTPProxy.api_url` with the token both read from CONFIGPROXY_AUTH_TOKEN. The
arguments are those JupyterHub gives the proxy it starts itself (jupyterhub/proxy.py,
`ConfigurableHTTPProxy.start`), from the same settings: the shipped page binds the public
address to `c.Deployment.public_url` unless an operator's fragment sets
`c.JupyterHub.bind_url`; TLS from `c.JupyterHub.ssl_cert`/`ssl_key`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from urllib.parse import urlsplit

from traitlets.config import Config

from ..configdir import operator_config
from ..deployment import Deployment

DEFAULT_API_URL = "http://127.0.0.1:8001"  # JupyterHub's ConfigurableHTTPProxy.api_url


def address(url: str) -> tuple[str, int]:
    """(ip, port) a URL names, as JupyterHub's Server.from_url reads it."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def command(config: Config) -> list[str]:
    """The configurable-http-proxy command line for the hub configured by `config`."""
    hub, proxy = config.get("JupyterHub", {}), config.get("ConfigurableHTTPProxy", {})
    deployment = Deployment(config=config)
    ip, port = address(hub.get("bind_url") or deployment.public_url)
    api_ip, api_port = address(proxy.get("api_url") or DEFAULT_API_URL)
    base = hub.get("base_url") or "/"
    hub_host = f"http://127.0.0.1:{deployment.hub_port}"
    configured = proxy.get("command") or ["configurable-http-proxy"]
    argv = shlex.split(configured) if isinstance(configured, str) else list(configured)
    argv += [
        "--ip", ip, "--port", str(port),
        "--api-ip", api_ip, "--api-port", str(api_port),
        "--default-target", hub_host,
        "--error-target", f"{hub_host}{base.rstrip('/')}/hub/error",
        "--log-level", proxy.get("log_level") or "info",
    ]  # fmt: skip
    if hub.get("subdomain_host"):
        argv.append("--host-routing")
    if hub.get("ssl_key"):
        argv += ["--ssl-key", hub["ssl_key"]]
    if hub.get("ssl_cert"):
        argv += ["--ssl-cert", hub["ssl_cert"]]
    return argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_hds.operations.proxy")
    parser.add_argument("--print", action="store_true", help="print the command, do not run it")
    args = parser.parse_args(argv)
    argv = command(operator_config())
    if args.print:
        print(shlex.join(argv))
        return
    if not os.environ.get("CONFIGPROXY_AUTH_TOKEN"):
        sys.exit(
            "CONFIGPROXY_AUTH_TOKEN is not set: the unit reads it from /etc/jupyter-hds/proxy.env"
        )
    os.execvp(argv[0], argv)  # noqa: S606 - the proxy replaces this process, as systemd expects


if __name__ == "__main__":
    main()
