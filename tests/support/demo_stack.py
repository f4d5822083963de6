"""`make up`'s stack for browser tests: scripts/up.sh (demo provider, demo project, hub) on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent

import requests

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
            c.JupyterHub.hub_bind_url = "http://0.0.0.0:{self.hub_port}"
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
            c.HDSDockerSpawner.prefix = "{RUN_PREFIX}"
            c.JupyterHub.services.append({{"name": "{SERVICE}", "api_token": "{self.token}"}})
            c.JupyterHub.load_roles.append(
                {{"name": "{SERVICE}", "scopes": {SERVICE_SCOPES!r}, "services": ["{SERVICE}"]}}
            )
            for _service in c.JupyterHub.services:  # the audit service: a free port too
                if _service.get("name") == "audit":
                    _service["url"] = "http://127.0.0.1:{self.audit_port}"
            """)
        )

    def start(self, timeout: float = 120) -> DemoStack:
        self.write_config()
        self.provider_port = free_port()
        env = {
            **os.environ,
            "HDS_STATE_DIR": str(self.state_dir),
            "HDS_CONFIG_DIR": str(self.config_dir),
            "HDS_PUBLIC_URL": self.url,
            "HDS_DEMO_OIDC_PORT": str(self.provider_port),
            "PATH": f"{ROOT / 'node_modules' / '.bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "up.sh")],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"make up's script exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the demo stack did not answer within {timeout} s:\n{self.log()}")

    @property
    def provider_url(self) -> str:
        return f"http://127.0.0.1:{self.provider_port}"
