"""A real JupyterHub process running the shipped config, plus a test fragment in $HDS_CONFIG_DIR."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent

import requests

from .datasets import write_dataset
from .docker_engine import RUN_PREFIX

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "hub" / "jupyterhub_config.py"
SERVICE = "hds-test"
SERVICE_SCOPES = [
    "admin:users",
    "admin:groups",
    "admin:servers",
    "access:servers",
    "tokens",
    "read:roles",
]


def wait_for_http(process: subprocess.Popen, url: str, timeout: float, name: str, log) -> None:
    """Wait until `url` answers 2xx; fail with `log()` if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{name} did not answer {url} within {timeout} s:\n{log()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RealHub:
    """`jupyterhub -f hub/jupyterhub_config.py` on free ports, with an admin service token."""

    def __init__(
        self,
        state_dir: Path,
        extra_config: str = "",
        env: dict[str, str] | None = None,
        db_url: str | None = None,
    ):
        """`db_url`: the hub's database (c.Deployment.db_url); None for SQLite in `state_dir`."""
        self.state_dir = state_dir
        self.db_url = db_url
        self.config_dir = state_dir / "conf.d"
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.audit_port, self.usage_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.extra_config = extra_config
        self.env = env or {}
        self.log_path = state_dir / "hub.log"
        self.process: subprocess.Popen | None = None

    def write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "00-test.py").write_text(
            dedent(f"""
            c.Deployment.public_url = "{self.url}"
            c.Deployment.hub_port = {self.hub_port}
            c.Deployment.ports = {{"audit": {self.audit_port}, "usage": {self.usage_port}}}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
            c.HDSDockerSpawner.prefix = "{RUN_PREFIX}"
            c.JupyterHub.authenticator_class = "null"  # API tokens only, unless a test overrides it
            c.JupyterHub.services.append({{"name": "{SERVICE}", "api_token": "{self.token}"}})
            c.JupyterHub.load_roles.append(
                {{"name": "{SERVICE}", "scopes": {SERVICE_SCOPES!r}, "services": ["{SERVICE}"]}}
            )
            """)
            + (f"c.Deployment.db_url = {self.db_url!r}\n" if self.db_url else "")
        )
        if self.extra_config:
            (self.config_dir / "50-test-extra.py").write_text(dedent(self.extra_config))

    def command(self) -> tuple[list[str], Path]:
        """What to run, and where."""
        return [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)], self.state_dir

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "HDS_STATE_DIR": str(self.state_dir),
            "HDS_CONFIG_DIR": str(self.config_dir),
            "PATH": f"{ROOT / 'node_modules' / '.bin'}:{Path(sys.executable).parent}:"
            f"{os.environ['PATH']}",
            **self.env,
        }

    def start(self, timeout: float = 60) -> RealHub:
        self.write_config()
        command, cwd = self.command()
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=self.environment(),
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_http(self.process, f"{self.url}/hub/api/", timeout, "the hub", self.log)
        except BaseException:
            self.stop()  # never leave a hub (and its proxy, services) behind
            raise
        return self

    def stop(self, timeout: float = 60, unmount: bool = True) -> None:
        """SIGTERM to the whole process group (hub, proxy, services), then wait for all of it.

        `unmount` also unmounts project volumes the hub left (a hub killed, or run with
        cleanup_servers = False).
        """
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.process.poll()
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.process.wait()
        if unmount:
            self.unmount_volumes()

    def unmount_volumes(self) -> None:
        """Unmount project volumes under this hub's state folder."""
        root = f"{self.state_dir}/"
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mountpoint = line.split()[4]
            if mountpoint.startswith(root):
                subprocess.run(["umount", mountpoint], check=False)

    def log(self, tail: int = 150) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {token or self.token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def wait_for_server(self, user: str, name: str, ready: bool = True, timeout: float = 120):
        """Wait until `user`'s server `name` is ready (or gone, with `ready=False`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{user}").json()
            server = model.get("servers", {}).get(name)
            if ready and server and server.get("ready"):
                return server
            if not ready and not server:
                return None
            time.sleep(0.5)
        state = "ready" if ready else "stopped"
        raise TimeoutError(f"{user}/{name} not {state} within {timeout} s:\n{self.log()}")


def make_dataset(
    hub: RealHub, name: str, files: dict[str, bytes] | None = None, project: str | None = None
) -> Path:
    """Version 1 of dataset `name` in the hub's state, imported for `project` (default: `name`)."""
    return write_dataset(hub.state_dir / "datasets", name, files, project)


def make_project(hub: RealHub, name: str, members: list[str], **properties: str) -> None:
    """Create users (if missing), the project's group, its properties and its members. Without
    a `dataset` property, the project gets a dataset of its own name (made if missing)."""
    if "dataset" not in properties and not (hub.state_dir / "datasets" / name).exists():
        make_dataset(hub, name)
    properties = {"plan": "public", "dataset": name, **properties}
    for member in members:
        hub.api("POST", f"/users/{member}")  # 409 when it exists: fine
    response = hub.api("POST", f"/groups/{name}")
    assert response.status_code in (201, 409), response.text
    response = hub.api("PUT", f"/groups/{name}/properties", json=properties)
    assert response.status_code == 200, response.text
    if members:
        response = hub.api("POST", f"/groups/{name}/users", json={"users": members})
        assert response.status_code == 200, response.text


def browser_login(hub: RealHub, user: str, password: str = "any") -> requests.Session:
    """A cookie session for `user`, logged in through the hub's login form (a test authenticator)."""
    session = requests.Session()
    page = session.get(f"{hub.url}/hub/login", timeout=30)
    page.raise_for_status()
    xsrf = session.cookies.get("_xsrf", path="/hub/")
    response = session.post(
        f"{hub.url}/hub/login",
        data={"username": user, "password": password, "_xsrf": xsrf},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 302, f"login as {user} failed: {response.status_code}"
    return session
