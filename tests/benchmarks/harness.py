"""What the benchmarks share: a plain JupyterHub beside ours, one readiness probe for every kind of
server start, a container's own cgroup figures, percentiles, and the results file each benchmark
writes for `report.py` (docs/benchmarks.md)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from textwrap import dedent
from typing import Any

import docker
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import free_port, wait_for_http  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("HDS_BENCH_RESULTS", ROOT / "build" / "bench" / "results"))
IMAGE = os.environ.get("HDS_SINGLEUSER_IMAGE", "jupyter-hds/singleuser:latest")
MiB = 2**20
DEBUG = bool(os.environ.get("HDS_BENCH_DEBUG"))


# -- figures ------------------------------------------------------------------------------


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` 0.5 is the median of an odd count)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# -- results: what report.py puts on docs/benchmarks.md -------------------------------------


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]

    def text(self) -> str:
        widths = [
            max(len(str(r[i])) for r in [self.header, *self.rows]) for i in range(len(self.header))
        ]
        lines = [self.title]
        for index, row in enumerate([self.header, *self.rows]):
            cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                     enumerate(zip(row, widths, strict=True))]  # fmt: skip
            lines.append("  " + "  ".join(cells))
            if index == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        return "\n".join(lines)


@dataclass
class Results:
    """One benchmark's figures: tables for people, `figures` for the report's summary, notes
    (goals met or not), the command that made them and the load while it ran."""

    name: str
    title: str
    command: str
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    load: list[str] = field(default_factory=list)

    def table(self, title: str, header: list[str], rows: list[list[Any]]) -> Table:
        table = Table(title, header, [[str(c) for c in row] for row in rows])
        self.tables.append(table)
        return table

    def note(self, text: str) -> None:
        self.notes.append(text)

    def goal(self, text: str, met: bool) -> None:
        self.notes.append(f"goal {'met' if met else 'NOT met'}: {text}")

    def save(self) -> Path:
        """Write build/bench/results/<name>.json and print the same tables."""
        self.load.append(load_average())
        data = {**asdict(self), "seconds": time.time() - self.started}
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        path.write_text(json.dumps(data, indent=1, default=str))
        print(f"\n== {self.title} ({data['seconds']:.0f} s; load average {self.load[-1]})")
        for table in self.tables:
            print("\n" + table.text())
        for note in self.notes:
            print(f"  {note}")
        print(f"  (saved to {path})")
        return path


# -- containers: the engine's events and a container's cgroup -------------------------------


class EngineEvents:
    """Times (epoch seconds, the engine's own clock) at which containers were created and
    started, by name, from the engine's event stream: no polling of the engine."""

    def __init__(self, client: docker.DockerClient):
        self.client = client
        self.seen: dict[str, dict[str, float]] = {}
        self.changed = threading.Condition()
        self._stream = client.api.events(
            decode=True, filters={"type": "container", "event": ["create", "start", "die"]}
        )
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        with contextlib.suppress(Exception):  # the stream is closed at the end
            for event in self._stream:
                name = event.get("Actor", {}).get("Attributes", {}).get("name", "")
                with self.changed:
                    action = event.get("Action") or event.get("status")
                    self.seen.setdefault(name, {})[action] = event["timeNano"] / 1e9
                    self.changed.notify_all()

    def wait(self, name: str, status: str, timeout: float) -> float:
        """When container `name` reached `status` (create, start, die) since it was forgotten."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                moment = self.seen.get(name, {}).get(status)
                if moment is not None:
                    return moment
                if "die" in self.seen.get(name, {}):
                    raise RuntimeError(f"container {name} died before it was {status}ed")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"container {name} not {status}ed within {timeout} s")
                self.changed.wait(left)

    def forget(self, name: str) -> None:
        with self.changed:
            self.seen.pop(name, None)

    def close(self) -> None:
        self._stream.close()


def cgroup_dir(pid: int, controller: str) -> Path:
    """The cgroup folder of process `pid` for `controller` (cgroup v1), or its v2 folder."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup", controller, path.lstrip("/"))
    unified = next(line for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                   if line.startswith("0::"))  # fmt: skip
    return Path("/sys/fs/cgroup", unified[3:].lstrip("/"))


def container_pid(client: docker.DockerClient, name: str) -> int:
    return client.api.inspect_container(name)["State"]["Pid"]


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by every process of the container whose init is `pid`."""
    folder = cgroup_dir(pid, "cpuacct")
    if (folder / "cpuacct.usage").exists():
        return int((folder / "cpuacct.usage").read_text()) / 1e9
    stat = dict(line.split() for line in (folder / "cpu.stat").read_text().splitlines())
    return int(stat["usage_usec"]) / 1e6


def memory_bytes(pid: int) -> int:
    """Memory in use by the container whose init is `pid`, page cache it could drop excluded
    (what `docker stats` shows)."""
    folder = cgroup_dir(pid, "memory")
    stat = dict(line.split() for line in (folder / "memory.stat").read_text().splitlines())
    if (folder / "memory.usage_in_bytes").exists():
        usage = int((folder / "memory.usage_in_bytes").read_text())
        return usage - int(stat.get("total_inactive_file", 0))
    return int((folder / "memory.current").read_text()) - int(stat.get("inactive_file", 0))


def container_address(client: docker.DockerClient, name: str) -> str:
    networks = client.api.inspect_container(name)["NetworkSettings"]["Networks"]
    return next(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))


# -- readiness: one probe for every kind of start --------------------------------------------


@dataclass
class Start:
    """One server start, in seconds from the request: the container created and started (the
    engine's events), the server answering `/api/status` at the container and through the
    proxy (None where there is none), and the container's CPU seconds when it answered."""

    label: str
    created: float | None = None
    started: float | None = None
    direct: float | None = None
    proxy: float | None = None
    cpu: float | None = None
    error: str | None = None


@dataclass
class Probe:
    """How a start is watched: the same steps, at the same `interval`, for every setup.

    At the container: wait for the engine's start event, then a TCP connect every `interval`
    until the port accepts, then GET `/api/status` every `interval` until it answers 200.
    Through the proxy (when there is one): GET the same path at the public address every
    `interval`, from the moment the container answered (the hub routes the proxy only after
    its own check of the server, so nothing earlier can succeed, and the hub is not loaded
    with requests for a server still starting).
    """

    events: EngineEvents
    interval: float = 0.05
    timeout: float = 600

    def watch(self, start: Start, began: float, container: str, path: str,
              headers: dict[str, str], public: str | None) -> Start:  # fmt: skip
        client = self.events.client
        try:
            start.created = self.events.wait(container, "create", self.timeout) - began
            start.started = self.events.wait(container, "start", self.timeout) - began
            if DEBUG:
                print(f"{time.time() - began:.2f} start event seen", file=sys.stderr)
            address = container_address(client, container)
            pid = container_pid(client, container)
            if DEBUG:
                print(f"{time.time() - began:.2f} inspected", file=sys.stderr)
            self._connect(address, 8888, began)
            self._get(f"http://{address}:8888{path}", headers, began)
            start.direct = time.time() - began
            start.cpu = cpu_seconds(pid)
            if public:
                self._get(f"{public}{path}", headers, began)
                start.proxy = time.time() - began
        except Exception as error:  # counted and shown, not hidden
            start.error = f"{type(error).__name__}: {error}"[:300]
        return start

    def _deadline(self, began: float) -> None:
        if time.time() - began > self.timeout:
            raise TimeoutError(f"no answer within {self.timeout} s")

    def _connect(self, address: str, port: int, began: float) -> None:
        while True:
            try:
                socket.create_connection((address, port), timeout=1).close()
                if DEBUG:
                    print(f"{time.time() - began:.2f} connected", file=sys.stderr)
                return
            except OSError as error:
                if DEBUG:
                    print(f"{time.time() - began:.2f} connect {address} {error}", file=sys.stderr)
                self._deadline(began)
                time.sleep(self.interval)

    def _get(self, url: str, headers: dict[str, str], began: float) -> None:
        while True:
            try:
                answer = requests.get(url, headers=headers, timeout=10, allow_redirects=False)
                if answer.status_code == 200:
                    return
                if DEBUG:
                    print(f"{time.time() - began:.2f} {url} {answer.status_code}", file=sys.stderr)
            except requests.RequestException as error:
                if DEBUG:
                    print(f"{time.time() - began:.2f} {url} {error}", file=sys.stderr)
            self._deadline(began)
            time.sleep(self.interval)


# -- hubs ------------------------------------------------------------------------------------


class PlainHub:
    """JupyterHub with plain DockerSpawner and only what it needs: no Jupyter HDS config and no
    HDS service. Same image, same proxy (configurable-http-proxy), servers on Docker's default
    bridge. Its API as RealHub's: `url`, `token`, `api()`, `start()`, `stop()`, `log()`."""

    def __init__(self, state_dir: Path, image: str = IMAGE, extra_config: str = ""):
        self.state_dir = state_dir
        self.image, self.extra_config = image, extra_config
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.prefix = f"{RUN_PREFIX}-plain"
        self.log_path = state_dir / "hub.log"
        self.process: subprocess.Popen | None = None

    def container(self, user: str, server: str) -> str:
        """The container name DockerSpawner gives a named server."""
        return f"{self.prefix}-{user}--{server}"

    def config(self, gateway: str) -> str:
        state = self.state_dir
        return dedent(f"""
            # The least a JupyterHub with DockerSpawner needs; written by the spawn benchmark.
            c.JupyterHub.bind_url = "{self.url}"
            c.JupyterHub.hub_bind_url = "http://0.0.0.0:{self.hub_port}"
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_api_port}"
            c.ConfigurableHTTPProxy.pid_file = "{state}/proxy.pid"
            c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
            c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
            c.JupyterHub.authenticator_class = "null"
            c.JupyterHub.allow_named_servers = True
            c.JupyterHub.services = [{{"name": "bench", "api_token": "{self.token}"}}]
            c.JupyterHub.load_roles = [{{"name": "bench", "services": ["bench"],
                "scopes": ["admin:users", "admin:servers", "access:servers", "admin:groups"]}}]
            c.JupyterHub.spawner_class = "docker"
            c.DockerSpawner.image = "{self.image}"
            c.DockerSpawner.prefix = "{self.prefix}"
            c.DockerSpawner.remove = True
            c.DockerSpawner.pull_policy = "never"
            c.DockerSpawner.network_name = "bridge"
            c.DockerSpawner.use_internal_ip = True
            c.DockerSpawner.hub_connect_url = "http://{gateway}:{self.hub_port}"
            c.Spawner.start_timeout = 600
            c.Spawner.http_timeout = 300
        """) + dedent(self.extra_config)

    def start(self, timeout: float = 120) -> PlainHub:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        bridge = docker.from_env().api.inspect_network("bridge")
        gateway = bridge["IPAM"]["Config"][0].get("Gateway", "172.17.0.1")
        config = self.state_dir / "jupyterhub_config.py"
        config.write_text(self.config(gateway))
        bin_dir = Path(sys.executable).parent
        env = {
            **os.environ,
            "PATH": f"{ROOT / 'node_modules' / '.bin'}:{bin_dir}:{os.environ['PATH']}",
        }
        self.process = subprocess.Popen(
            [str(bin_dir / "jupyterhub"), "-f", str(config)], cwd=self.state_dir, env=env,
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for_http(self.process, f"{self.url}/hub/api/", timeout, "plain hub", self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 60) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the proxy too
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)

    def log(self, tail: int = 150) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-tail:])

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=60,
                                **kwargs)  # fmt: skip


def hub_container(hub: Any, user: str, server: str) -> str:
    """The container name of `user`'s server `server` on `hub` (ours or plain)."""
    if isinstance(hub, PlainHub):
        return hub.container(user, server)
    return f"{RUN_PREFIX}-{user}--{server}"


def hub_start(hub: Any, probe: Probe, user: str, server: str, label: str) -> Start:
    """Ask `hub` to start `user`'s server `server` and watch it answer."""
    container = hub_container(hub, user, server)
    probe.events.forget(container)
    start, began = Start(label), time.time()
    # The hub answers the request when the server is ready (or after its slow_spawn_timeout):
    # sent from a thread, so that the probe watches from the moment it is sent.
    with concurrent.futures.ThreadPoolExecutor(1) as sender:
        sent = sender.submit(hub.api, "POST", f"/users/{user}/servers/{server}")
        headers = {"Authorization": f"token {hub.token}"}
        path = f"/user/{user}/{server}/api/status"
        probe.watch(start, began, container, path, headers, hub.url)
        answer = sent.result()
    if answer.status_code not in (201, 202):
        start.error = f"{answer.status_code}: {answer.text[:200]}"
    return start


def hub_stop(hub: Any, user: str, server: str, timeout: float = 300) -> None:
    """Stop a server and wait until the hub has forgotten it."""
    hub.api("DELETE", f"/users/{user}/servers/{server}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server not in hub.api("GET", f"/users/{user}").json().get("servers", {}):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{user}/{server} still there after {timeout} s")


def bare_start(client: docker.DockerClient, probe: Probe, name: str, label: str = "bare",
               image: str = IMAGE, command: Callable[[str], list[str]] | None = None,
               volumes: list[str] | None = None) -> Start:  # fmt: skip
    """`docker run` of the image's Jupyter server, watched like the hubs' servers.

    `command(token)` is the container's command, given the token the probe sends (default:
    `jupyter server` with that token); `volumes` are `docker run -v` values."""
    probe.events.forget(name)
    start, began = Start(label), time.time()
    token = secrets.token_hex(8)
    argv = (command(token) if command else
            ["jupyter", "server", "--ip=0.0.0.0", f"--IdentityProvider.token={token}"])  # fmt: skip
    mounts = [word for volume in volumes or [] for word in ("-v", volume)]
    done = subprocess.run(["docker", "run", "-d", "--name", name, *mounts, image, *argv],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        start.error = done.stderr.strip()[:300]
        return start
    return probe.watch(start, began, name, "/api/status", {"Authorization": f"token {token}"},
                       None)  # fmt: skip


def remove_container(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.api.remove_container(name, force=True)


def summary_rows(starts: dict[str, list[Start]], what: list[tuple[str, str]],
                 fraction: float = 0.95) -> list[list[str]]:  # fmt: skip
    """Rows `setup, <median and p95 of each attribute in what>` (blank where none)."""
    rows = []
    for label, done in starts.items():
        row = [label]
        for attribute, _ in what:
            values = [getattr(s, attribute) for s in done if getattr(s, attribute) is not None]
            row += ([f"{median(values):.2f}", f"{percentile(values, fraction):.2f}"]
                    if values else ["-", "-"])  # fmt: skip
        rows.append(row)
    return rows


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = function()
    return time.perf_counter() - began, result
