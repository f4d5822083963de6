"""`make up`'s stack for browser tests: scripts/up.sh (demo provider, demo project, hub) on free ports."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from .docker_engine import RUN_PREFIX
from .hub import ROOT, SERVICE, SERVICE_SCOPES, RealHub, free_port


class DemoStack(RealHub):
    """The very script `make up` runs, with the demo config, moved to free ports and a test prefix."""

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
            "HDS_PUBLIC_URL": self.url,
            "HDS_DEMO_OIDC_PORT": str(self.provider_port),
        }

    def start(self, timeout: float = 120) -> DemoStack:
        self.provider_port = free_port()
        super().start(timeout)
        return self

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.provider_port}"
