"""`make up`'s stack for browser tests: scripts/up.sh (demo provider, demo project, hub) on free ports.

As `make up` does, the proxy listens on 127.0.0.1 and people open the hub by its loopback name,
`http://hub.localhost:<port>` (`url`), with user servers on its subdomains. Chromium resolves
`*.localhost` itself; this process does from `start()` to `stop()`
(`support.collaboration.loopback_subdomains()`).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from textwrap import dedent

from .collaboration import loopback_subdomains
from .docker_engine import RUN_PREFIX
from .hub import ROOT, SERVICE, SERVICE_SCOPES, RealHub, free_port


class DemoStack(RealHub):
    """The very script `make up` runs, with the demo config, moved to free ports and a test prefix."""

    def __init__(self, state_dir: Path):
        super().__init__(state_dir)
        self.bind = self.url  # where the proxy listens
        self.url = f"http://hub.localhost:{self.port}"  # what people open

    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        for fragment in sorted((ROOT / "hub" / "demo.d").glob("*.py")):
            target = self.config_dir / fragment.name
            if not target.exists():
                target.symlink_to(fragment)
        (self.config_dir / "90-test-stack.py").write_text(
            dedent(f"""
            c.Deployment.hub_port = {self.hub_port}
            c.Deployment.ports = {{"audit": {self.audit_port}, "usage": {self.usage_port}}}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
            c.HDSDockerSpawner.prefix = "{RUN_PREFIX}"
            c.JupyterHub.services.append({{"name": "{SERVICE}", "api_token": "{self.token}"}})
            c.JupyterHub.load_roles.append(
                {{"name": "{SERVICE}", "scopes": {SERVICE_SCOPES!r}, "services": ["{SERVICE}"]}}
            )
            """)
        )

    def command(self) -> tuple[list[str], Path]:
        return [str(ROOT / "scripts" / "up.sh")], ROOT

    def start_proxy(self, timeout: float = 30) -> None:
        """scripts/up.sh starts the proxy itself (with the token RealHub passes it)."""

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "HDS_PUBLIC_URL": self.bind,
            "HDS_HUB_URL": self.url,
            "HDS_DEMO_OIDC_PORT": str(self.provider_port),
        }

    def start(self, timeout: float = 120) -> DemoStack:
        self.resolving = contextlib.ExitStack()
        self.resolving.enter_context(loopback_subdomains())
        self.provider_port = free_port()
        try:
            super().start(timeout)
            self.wait_for_demo_dataset(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_demo_dataset(self, timeout: float) -> None:
        """up.sh imports the demo dataset once the hub answers, then names it in the project."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            group = self.api("GET", "/groups/demo-cohort").json()
            if (group.get("properties") or {}).get("dataset"):
                return
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise TimeoutError(f"the demo project has no dataset yet:\n{self.log()}")

    def stop(self, timeout: float = 60, unmount: bool = True) -> None:
        try:
            super().stop(timeout, unmount)
        finally:
            if getattr(self, "resolving", None) is not None:
                self.resolving.close()

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.provider_port}"
