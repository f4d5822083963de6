"""A real JupyterHub process running the shipped config, plus a test fragment in $HDS_CONFIG_DIR.

Its public proxy runs apart from it, as in production (jupyter-hds-proxy.service): the hub can
be stopped, killed and started again behind a proxy that keeps its routes.
"""

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

import docker
import requests

from jupyter_hds.projects import firewall

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
    raise TimeoutError(
        f"{name} did not answer {url} within {timeout} s ({_process_state(process.pid)}):\n{log()}"
    )


def _process_state(pid: int) -> str:
    """A process's state letter (R running, S sleeping, D in I/O, T stopped) and CPU time, for
    telling a process that hangs from one that is busy or was stopped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return "process gone"
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:  # where in the kernel it waits, and in which system call (number first)
        waits = Path(f"/proc/{pid}/wchan").read_text() or "-"
        call = Path(f"/proc/{pid}/syscall").read_text().split(" ", 1)[0]
    except OSError:
        waits = call = "?"
    return f"process state {fields[0]}, {cpu:.1f} CPU s, waiting in {waits}, syscall {call}"


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the hub's services)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _signal_group(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, number)


def _wait_group(leader: subprocess.Popen, timeout: float) -> bool:
    """Wait until no process of `leader`'s group is left; False when time ran out.

    The leader is reaped as soon as it exits: a zombie still counts as a member of its group.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader.poll()
        try:
            os.killpg(leader.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


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
        self.proxy_token = secrets.token_hex(32)
        self.extra_config = extra_config
        self.env = env or {}
        self.log_path = state_dir / "hub.log"
        self.proxy_log_path = state_dir / "proxy.log"
        self.process: subprocess.Popen | None = None
        self.proxy: subprocess.Popen | None = None
        self.hub_pids: list[int] = []  # every hub process this object started
        self.answered_at = 0.0  # when the last start_hub saw the hub answer

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
        """What to run, and where: the hub, using the proxy that runs apart (start_proxy)."""
        hub = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG)]
        return [*hub, "--ConfigurableHTTPProxy.should_start=False"], self.state_dir

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "HDS_STATE_DIR": str(self.state_dir),
            "HDS_CONFIG_DIR": str(self.config_dir),
            "CONFIGPROXY_AUTH_TOKEN": self.proxy_token,
            "PYTHONFAULTHANDLER": "1",  # a hub that crashes says where, in its log
            "PATH": f"{ROOT / 'node_modules' / '.bin'}:{Path(sys.executable).parent}:"
            f"{os.environ['PATH']}",
            **self.env,
        }

    def start(self, timeout: float = 60) -> RealHub:
        """The proxy (unless it runs already), then the hub; both answering."""
        self.write_config()
        try:
            self.start_proxy()
            self.start_hub(timeout)
        except BaseException:
            self.stop()  # never leave a hub (and its proxy, services) behind
            raise
        return self

    def start_proxy(self, timeout: float = 30) -> None:
        """configurable-http-proxy in its own session, started the way its systemd unit does."""
        if self.proxy is not None and self.proxy.poll() is None:
            return
        self.proxy = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hds.operations.proxy"],
            cwd=self.state_dir,
            env=self.environment(),
            stdout=self.proxy_log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while self.proxy_routes() is None:
            if self.proxy.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the proxy did not start:\n{self.proxy_log()}")
            time.sleep(0.2)

    def proxy_routes(self) -> dict | None:
        """The proxy's routing table (None while its API does not answer)."""
        try:
            response = requests.get(
                f"http://127.0.0.1:{self.proxy_api_port}/api/routes",
                headers={"Authorization": f"token {self.proxy_token}"},
                timeout=5,
            )
        except requests.RequestException:
            return None
        return response.json() if response.ok else None

    def start_hub(self, timeout: float = 60) -> None:
        """The hub process alone (the proxy runs already), answering through the proxy, its
        services started and its signal handlers set (JupyterHub's last start-up step)."""
        started = self._running_marks()
        deadline = time.monotonic() + timeout
        command, cwd = self.command()
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=self.environment(),
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.hub_pids.append(self.process.pid)
        wait_for_http(self.process, f"{self.url}/hub/api/", timeout, "the hub", self.log)
        self.answered_at = time.monotonic()  # the hub's API answers through the proxy
        while self._running_marks() == started:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not finish starting:\n{self.log()}")
            time.sleep(0.1)

    def _running_marks(self) -> int:
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(errors="replace").count("JupyterHub is now running")

    def stop_hub(self, timeout: float = 60) -> float:
        """SIGTERM to the hub process only, as systemd stops its unit; the seconds it took.

        The hub stops its services itself; servers and the proxy keep running.
        """
        if self.process is None or self.process.poll() is not None:
            return 0.0
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_hub()
            raise
        return time.monotonic() - start

    def kill_hub(self, grace: float = 2) -> list[int]:
        """`kill -9` of the hub process; then, as systemd does with the unit's control group,
        SIGKILL to what it started that is still there after `grace` seconds (returned)."""
        if self.process is None:
            return []
        services = _children(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()
        deadline = time.monotonic() + grace
        while any(map(_alive, services)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in services if _alive(pid)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return left

    def stop_proxy(self, timeout: float = 10) -> None:
        if self.proxy is None:
            return
        _signal_group(self.proxy.pid, signal.SIGTERM)
        if not _wait_group(self.proxy, timeout):
            _signal_group(self.proxy.pid, signal.SIGKILL)
        self.proxy.wait()

    def stop(self, timeout: float = 60, unmount: bool = True) -> None:
        """Stop the hub (its whole process group), its proxy and, with `unmount`, what they
        leave behind: the hub's servers (containers) and project volumes.

        `unmount=False` leaves the servers running with their volumes mounted, for a hub that
        starts again.
        """
        if self.process is not None:
            group = self.process.pid
            _signal_group(group, signal.SIGTERM)
            if not _wait_group(self.process, timeout):
                _signal_group(group, signal.SIGKILL)
            self.process.wait()
        self.stop_proxy()
        for pid in self.hub_pids:
            with contextlib.suppress(firewall.FirewallError):
                firewall.forget_hub_port(self.hub_port, pid)
        if unmount:
            self.remove_servers()
            self.unmount_volumes()

    def remove_servers(self) -> None:
        """Remove the containers of this hub's servers (the hub leaves them running), and
        their project networks once no container is on them."""
        try:
            client = docker.from_env()
            client.ping()
        except Exception:  # no engine (hub tier): this hub started no server
            return
        api_url = f":{self.hub_port}/hub/api"
        networks: set[str] = set()
        for container in client.containers.list(all=True, filters={"name": RUN_PREFIX}):
            env = container.attrs.get("Config", {}).get("Env") or []
            if any(e.startswith("JUPYTERHUB_API_URL=") and api_url in e for e in env):
                networks.update(container.attrs["NetworkSettings"]["Networks"])
                container.remove(force=True)
        for name in sorted(n for n in networks if n.startswith(RUN_PREFIX)):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network = client.networks.get(name)
                if not network.attrs.get("Containers"):
                    network.remove()

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

    def proxy_log(self, tail: int = 50) -> str:
        if not self.proxy_log_path.exists():
            return ""
        return "\n".join(self.proxy_log_path.read_text(errors="replace").splitlines()[-tail:])

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
