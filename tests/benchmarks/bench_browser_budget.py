"""What the daily browser budget costs a notebook session: outputs streamed with and without it.

A real Jupyter server with the data guard (in its own process) and a real ipykernel; this
process plays JupyterLab on a real kernel websocket (v1 protocol) and the hub's audit
endpoint. The same cells run against the guard with no budget (`browser_bytes_day = 0`:
messages go straight to the websocket) and with a budget large enough never to refuse, so
every byte is counted and shares of it are recorded at the endpoint:

- bulk: N MiB of outputs in 64 KiB display messages;
- chatty: M small display messages (100 bytes each), where per-message cost shows;
- files: K reads of a 200 KiB file through the contents API.

Prints the median of R runs per case, and the cost of the counting writer per message
measured alone (no server). jupyter_server's own iopub rate limits are off in both modes.

    .venv/bin/python tests/benchmarks/bench_browser_budget.py [--mib 64] [--small 20000]
                                                              [--reads 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path
from types import SimpleNamespace

from jupyter_server.auth import IdentityProvider, User
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hds_data_guard.budget import BrowserBudget  # noqa: E402
from hds_data_guard.meter import Meter  # noqa: E402
from support.audit_endpoint import AuditEndpoint  # noqa: E402
from support.kernel_channels import PROTOCOL, KernelChannels  # noqa: E402

TOKEN = "bench-token"  # noqa: S105 (a local benchmark server)
HERE = Path(__file__).resolve().parent
BULK = """
from IPython.display import display
chunk = "x" * 65536
for i in range({n}):
    display({{"text/plain": chunk}}, raw=True)
"""
CHATTY = """
from IPython.display import display
for i in range({n}):
    display({{"text/plain": "x" * 100}}, raw=True)
"""


class BenchIdentity(IdentityProvider):
    """Every request is the same person's, as behind JupyterHub (not a new anonymous one)."""

    def generate_anonymous_user(self, handler):
        return User(username="alice")


class EndpointThread:
    """The hub's audit endpoint on its own event loop, as the hub is its own process."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.endpoint = self._call(lambda: AuditEndpoint(token="bench-hub-token").start())  # noqa: S106

    def _call(self, function):
        async def run():
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def stop(self) -> None:
        self._call(self.endpoint.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GuardedServer:
    """`jupyter server` with the data guard, in its own process."""

    def __init__(self, root: Path, endpoint: AuditEndpoint, budget: int):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "ServerApp": {"jpserver_extensions": {"hds_data_guard": True},
                          "root_dir": str(root), "open_browser": False, "allow_root": True,
                          "identity_provider_class": "bench_browser_budget.BenchIdentity"},
            "IdentityProvider": {"token": TOKEN},
            "ZMQChannelsWebsocketConnection": {"limit_rate": False},
            "DataGuardApp": {"events_url": endpoint.url, "project": "bench",
                             "spool_path": str(root / "spool" / "events.jsonl"),
                             "browser_bytes_day": budget},
        }  # fmt: skip
        config_dir = root / "config"
        config_dir.mkdir()
        (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir), "PYTHONPATH": path,
               "JUPYTERHUB_API_TOKEN": endpoint.token}  # fmt: skip
        command = [str(Path(sys.executable).parent / "jupyter"), "server", f"--port={self.port}"]
        self.log = (root / "server.log").open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                await self.fetch("GET", "api/status")
                return
            except OSError:
                await asyncio.sleep(0.3)
        raise TimeoutError(f"the server did not start; see {self.root / 'server.log'}")

    async def fetch(self, method: str, path: str, body: dict | None = None):
        request = HTTPRequest(f"{self.url}/{path}", method=method,
                              headers={"Authorization": f"token {TOKEN}"},
                              body=None if body is None else json.dumps(body))  # fmt: skip
        return await AsyncHTTPClient().fetch(request, raise_error=True)

    async def kernel(self) -> tuple[str, KernelChannels]:
        started = await self.fetch("POST", "api/kernels", {"name": "python3"})
        kernel_id = json.loads(started.body)["id"]
        url = self.url.replace("http", "ws") + f"/api/kernels/{kernel_id}/channels?session_id=b"
        connection = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {TOKEN}"}),
            subprotocols=[PROTOCOL], max_message_size=64 * 1024 * 1024,
        )  # fmt: skip
        channels = KernelChannels(connection)
        await channels.execute("1", timeout=120)
        return kernel_id, channels

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


async def timed(coroutine) -> float:
    start = time.perf_counter()
    result = await coroutine
    elapsed = time.perf_counter() - start
    if hasattr(result, "replied"):
        assert result.replied and result.idle, "the cell did not finish"
    return elapsed


CASES = ("bulk", "chatty", "files")


async def one_run(server: GuardedServer, channels: KernelChannels, args) -> dict[str, float]:
    bulk = await timed(channels.execute(BULK.format(n=args.mib * 16), timeout=600))
    chatty = await timed(channels.execute(CHATTY.format(n=args.small), timeout=600))
    files = await timed(read_files(server, args.reads))
    return {"bulk": bulk, "chatty": chatty, "files": files}


async def compare(args, endpoint: AuditEndpoint) -> dict[str, dict[str, float]]:
    """Both servers up at once; runs alternate between them, so load drifts hit both."""
    modes = {"no budget": 0, "with budget": 1024**4}
    figures: dict[str, dict[str, list[float]]] = {m: {c: [] for c in CASES} for m in modes}
    with tempfile.TemporaryDirectory() as folder:
        servers, kernels = {}, {}
        try:
            for mode, budget in modes.items():
                root = Path(folder) / mode.replace(" ", "-")
                for sub in ("dataset", "work"):
                    (root / sub).mkdir(parents=True)
                (root / "work" / "table.csv").write_bytes(b"a,b,c\n" + b"1,2,3\n" * 34_000)
                servers[mode] = GuardedServer(root, endpoint, budget)
            for mode, server in servers.items():
                await server.ready()
                kernels[mode] = await server.kernel()
            for _ in range(args.runs):
                for mode, server in servers.items():
                    try:
                        run = await one_run(server, kernels[mode][1], args)
                    except AssertionError:
                        log = (server.root / "server.log").read_text()[-3000:]
                        print(f"{mode}: a cell did not finish; the server's log ends:\n{log}")
                        raise
                    for case, value in run.items():
                        figures[mode][case].append(value)
        finally:
            for mode, server in servers.items():
                if mode in kernels:
                    kernels[mode][1].close()
                server.stop()
    return {m: {c: statistics.median(v) for c, v in f.items()} for m, f in figures.items()}


async def read_files(server: GuardedServer, reads: int) -> None:
    for _ in range(reads):
        await server.fetch("GET", "api/contents/work/table.csv?format=text&type=file")


class _NoWebsocket:
    def write_message(self, message, binary=False):
        return None


def writer_cost_per_message() -> tuple[float, float]:
    """Nanoseconds per message: the websocket's own write (a no-op here) vs the counting one,
    on the path every message takes while the record covers it."""
    budget = BrowserBudget(10**15, chunk=10**14, grace=0)
    account = budget.account("alice")
    account.granted = account.sendable = 10**15  # the record covers every message
    plain = _NoWebsocket().write_message
    meter = Meter(SimpleNamespace(_reserve=None), budget, "alice", plain)  # type: ignore[arg-type]
    message, number = b"x" * 300, 1_000_000
    direct = min(timeit.repeat(lambda: plain(message, binary=True), number=number, repeat=5))
    counted = min(timeit.repeat(lambda: meter(message, True), number=number, repeat=5))
    return direct / number * 1e9, counted / number * 1e9


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="MiB of bulk outputs per run")
    parser.add_argument("--small", type=int, default=20_000, help="small messages per run")
    parser.add_argument("--reads", type=int, default=200, help="200 KiB file reads per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    hub = EndpointThread()
    print(f"load average before: {os.getloadavg()[0]:.1f}; {args.mib} MiB bulk, "
          f"{args.small} small messages, {args.reads} file reads; median of {args.runs}")  # fmt: skip
    medians = await compare(args, hub.endpoint)
    off, on = medians["no budget"], medians["with budget"]
    print(f"events recorded with the budget: {len(hub.endpoint.events)}")
    print("| case | no budget | with budget | difference |")
    print("|---|---|---|---|")
    for case in CASES:
        change = (on[case] - off[case]) / off[case] * 100
        print(f"| {case} | {off[case]:.2f} s | {on[case]:.2f} s | {change:+.1f} % |")
    plain, counted = writer_cost_per_message()
    print(f"per message, writer alone: websocket write {plain:.0f} ns, counting write "
          f"{counted:.0f} ns (+{counted - plain:.0f} ns)")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    hub.stop()


if __name__ == "__main__":
    asyncio.run(main())
