"""Capacity benchmark: N project servers started at once, on the plain engine and on a swarm.

N projects of one member each (every server its own network, volume and, on a swarm, gateway:
the most work per server), all asked to start in the same second through the hub's REST API.
Prints, side by side: spawn time percentiles (request -> the server answering through the
proxy), failures, the idle memory of a server and of a gateway, the hub's memory, and one
busy server's peak (a pandas group-by over 5 million rows). docs/scaling.md turns these into
hosts per plan. Run: `make bench`, or this file with the venv's python after `make images`.
The swarm run makes the engine a single-node swarm only if it is not in one, and leaves it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import docker_engine  # noqa: E402
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import RealHub, make_dataset, make_project  # noqa: E402
from support.swarm import NodeAgent, SwarmMode, ensure_node_image  # noqa: E402

PLAN = """
from hds_quota.plans import DEFAULT_PLANS
c.Plans.plans.update({"bench": {**DEFAULT_PLANS["public"], "storage": "256M"}})
c.Spawner.start_timeout = 600
c.Spawner.http_timeout = 300
"""
SWARM = """
c.JupyterHub.spawner_class = "jupyter_hds.projects.swarm.HDSSwarmSpawner"
c.HDSSwarmSpawner.prefix = "{prefix}"
c.HDSSwarmSpawner.agent_socket_dir = "{socket_dir}"
"""
BUSY = """
import numpy as np, pandas as pd
frame = pd.DataFrame({"k": np.random.randint(0, 1000, 5_000_000), "v": np.random.rand(5_000_000)})
print(frame.groupby("k")["v"].agg(["mean", "std"]).shape)
"""
MiB = 2**20


def spawn(hub: RealHub, user: str, project: str) -> float:
    """Seconds from the start request to the server answering through the proxy."""
    began = time.perf_counter()
    response = hub.api("POST", f"/users/{user}/servers/{project}")
    if response.status_code not in (201, 202):
        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    deadline = time.monotonic() + 900
    while True:  # ready, or gone (a failed start removes the server), or too late
        server = hub.api("GET", f"/users/{user}").json().get("servers", {}).get(project)
        if not server:
            raise RuntimeError(f"the start failed: {hub.log(tail=5)[-300:]}")
        if server.get("ready"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{user}/{project} not ready after 900 s")
        time.sleep(0.5)
    url = f"{hub.url}/user/{user}/{project}/api/status"
    while not requests.get(url, headers={"Authorization": f"token {hub.token}"}, timeout=30).ok:
        time.sleep(0.1)
    return time.perf_counter() - began


def containers(client, kind: str):
    """This run's server containers (plain: by name; swarm: the services' task containers)."""
    found = client.containers.list()
    if kind == "swarm":
        return [
            c
            for c in found
            if c.labels.get("com.docker.swarm.service.name", "").startswith(f"{RUN_PREFIX}-u")
        ]
    return [c for c in found if c.name.startswith(f"{RUN_PREFIX}-u")]


def memory(container) -> int:
    """A container's memory in use, page cache excluded (cgroup v1 and v2)."""
    stats = container.stats(stream=False)["memory_stats"]
    detail = stats.get("stats") or {}
    return stats.get("usage", 0) - detail.get("total_inactive_file", detail.get("inactive_file", 0))


def hub_rss(hub: RealHub) -> int:
    status = Path(f"/proc/{hub.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def busy_peak(container) -> tuple[float, int]:
    """Seconds and peak memory of the pandas group-by in a running server."""
    began = time.perf_counter()
    code, output = container.exec_run(["python3", "-c", BUSY], user="1000:1000")
    took = time.perf_counter() - began
    if code != 0:
        raise RuntimeError(output.decode(errors="replace")[-500:])
    for path in ("/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "/sys/fs/cgroup/memory.peak"):
        code, value = container.exec_run(["cat", path])
        if code == 0:
            return took, int(value)
    return took, 0


def measure(kind: str, workdir: Path, count: int, client) -> dict:
    agent = None
    extra = PLAN
    (workdir / kind).mkdir(exist_ok=True)
    if kind == "swarm":
        agent = NodeAgent(workdir / kind, workdir / f"{kind}-agent").start()
        extra += SWARM.format(prefix=RUN_PREFIX, socket_dir=agent.socket_dir)
    hub = RealHub(workdir / kind, extra_config=extra).start()
    result: dict = {"times": [], "failures": []}
    try:
        make_dataset(hub, "bench-data")
        names = [(f"u{i:02d}", f"cap{i:02d}") for i in range(count)]
        for user, project in names:
            make_project(hub, project, [user], plan="bench", dataset="bench-data")
        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
            futures = {pool.submit(spawn, hub, *pair): pair for pair in names}
            for future in concurrent.futures.as_completed(futures):
                try:
                    result["times"].append(future.result())
                except Exception as error:  # counted and shown, not hidden
                    result["failures"].append(f"{futures[future]}: {error}"[:300])
        result["wall"] = time.perf_counter() - began
        time.sleep(20)  # let servers settle to idle
        boxes = containers(client, kind)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(boxes) or 1) as pool:
            result["idle"] = list(pool.map(memory, boxes))
        gateways = [c for c in client.containers.list() if "-gateway-" in c.name
                    and c.name.startswith(RUN_PREFIX)]  # fmt: skip
        result["gateway"] = [memory(g) for g in gateways]
        result["hub_rss"] = hub_rss(hub) * 1024
        if boxes:
            result["busy_seconds"], result["busy_peak"] = busy_peak(boxes[0])
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda pair: hub.api("DELETE", f"/users/{pair[0]}/servers/{pair[1]}"),
                          names))  # fmt: skip
        for user, project in names:
            hub.wait_for_server(user, project, ready=False, timeout=300)
    finally:
        if result["failures"]:
            errors = [line for line in hub.log(tail=5000).splitlines() if "Error" in line]
            result["failures"].append("hub log: " + " | ".join(errors[-3:]))
        hub.stop()
        if agent:
            agent.stop()
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def table(results: dict[str, dict], count: int) -> str:
    def cell(result: dict, what: str) -> str:
        times = result["times"]
        if what.startswith("spawn"):
            if not times:
                return "-"
            fraction = {"spawn p50 (s)": 0.5, "spawn p90 (s)": 0.9, "spawn max (s)": 1.0}[what]
            return f"{percentile(times, fraction):.1f}"
        values = {
            "all ready after (s)": f"{result['wall']:.1f}",
            "failures": f"{len(result['failures'])}/{count}",
            "idle server, median (MiB)": (
                f"{statistics.median(result['idle']) / MiB:.0f}" if result["idle"] else "-"
            ),
            "gateway per project (MiB)": (
                f"{statistics.median(result['gateway']) / MiB:.1f}" if result["gateway"] else "-"
            ),
            f"hub RSS with {count} servers (MiB)": f"{result['hub_rss'] / MiB:.0f}",
            "busy server peak (MiB)": f"{result.get('busy_peak', 0) / MiB:.0f}",
            "busy group-by (s)": f"{result.get('busy_seconds', 0):.1f}",
        }
        return values[what]

    rows = ["spawn p50 (s)", "spawn p90 (s)", "spawn max (s)", "all ready after (s)", "failures",
            "idle server, median (MiB)", "gateway per project (MiB)",
            f"hub RSS with {count} servers (MiB)", "busy server peak (MiB)", "busy group-by (s)"]  # fmt: skip
    lines = [f"{'':36s}" + "".join(f"{label:>16s}" for label in results)]
    for row in rows:
        lines.append(f"{row:36s}" + "".join(f"{cell(r, row):>16s}" for r in results.values()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--only", choices=["plain", "swarm"], help="one of the two runs")
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    ensure_node_image(client)
    results: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            if args.only in (None, "plain"):
                results["plain engine"] = measure("plain", workdir, args.servers, client)
            # The plain run's project networks share the swarm run's names: gone first.
            docker_engine.remove_objects(client, only_dead=False)
            if args.only in (None, "swarm"):
                with SwarmMode(client):
                    results["swarm, 1 node"] = measure("swarm", workdir, args.servers, client)
    finally:
        docker_engine.remove_objects(client, only_dead=False)
    print(f"{args.servers} project servers asked to start at once (1 member each), "
          f"{client.info()['NCPU']} CPUs, {client.info()['MemTotal'] / 2**30:.1f} GiB")  # fmt: skip
    print(table(results, args.servers))
    for label, result in results.items():
        for failure in result["failures"]:
            print(f"  {label} failure: {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
