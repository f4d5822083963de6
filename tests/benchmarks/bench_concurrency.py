"""Concurrency benchmark: 20 servers asked to start at once, ours vs plain DockerSpawner.

Two shapes on our hub (the shipped config, `support.hub.RealHub`): 20 projects of one member
each (every server its own network, firewall rules and volume: the most work per server), and
20 members of one project whose plan allows 20 servers at once (one network, one volume). Each
runs beside the same load on plain DockerSpawner in a minimal JupyterHub (`harness.PlainHub`):
20 users' servers at once, same image. The runs take turns (ours, plain, ours, plain), so load
from elsewhere falls on both. Every start is watched as bench_spawn watches one
(`harness.Probe`: the engine's events, then `/api/status` at the container, then through the
proxy), every 100 ms.

The floor: 20 x the CPU seconds one server uses from its start to its first answer (its
container's cgroup, from a solo start before the rounds) / the machine's cores: no hub can
start 20 servers faster than the servers can start themselves. Goals: no failure; wall time
<= plain DockerSpawner's under the same load; wall time <= 1.3 x the floor.

Run: `make bench`, or this file with the venv's python (after `make images`); `--swarm` adds
the projects shape on a single-node swarm (HDSSwarmSpawner; slow, not in the default run).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (  # noqa: E402
    IMAGE,
    EngineEvents,
    PlainHub,
    Probe,
    Results,
    Start,
    hub_start,
    hub_stop,
    load_average,
    median,
    percentile,
)

from support import docker_engine  # noqa: E402
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import RealHub, make_dataset, make_project  # noqa: E402

PLAN = """
from hds_quota.plans import DEFAULT_PLANS
c.Plans.plans.update({{"crowd": {{**DEFAULT_PLANS["public"], "storage": "256M",
    "members": {servers}, "running_servers": {servers}}}}})
c.Spawner.start_timeout = 600
c.Spawner.http_timeout = 300
"""
SWARM = """
c.JupyterHub.spawner_class = "jupyter_hds.projects.swarm.HDSSwarmSpawner"
c.HDSSwarmSpawner.prefix = "{prefix}"
c.HDSSwarmSpawner.agent_socket_dir = "{socket_dir}"
"""
INTERVAL = 0.1


class Run:
    """One load: `pairs` (user, server) asked to start at once on `hub`."""

    def __init__(self, label: str, hub, pairs: list[tuple[str, str]]):
        self.label, self.hub, self.pairs = label, hub, pairs
        self.starts: list[Start] = []
        self.wall = float("nan")
        self.load = ""
        self.cpu: dict[str, float] = {}

    def go(self, probe: Probe) -> Run:
        dockerd = engine_pid()
        before = (process_cpu(self.hub.process.pid), process_cpu(dockerd), machine_busy())
        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(self.pairs)) as pool:
            futures = [pool.submit(hub_start, self.hub, probe, user, server, self.label)
                       for user, server in self.pairs]  # fmt: skip
            self.starts = [f.result() for f in futures]
        self.wall = time.perf_counter() - began
        self.load = load_average()
        after = (process_cpu(self.hub.process.pid), process_cpu(dockerd), machine_busy())
        self.cpu = dict(zip(("hub", "dockerd", "machine"),
                            (b - a for a, b in zip(before, after, strict=True)), strict=True))  # fmt: skip
        with concurrent.futures.ThreadPoolExecutor(len(self.pairs)) as pool:
            list(pool.map(lambda pair: hub_stop(self.hub, *pair), self.pairs))
        return self

    def failures(self) -> list[str]:
        return [f"{s.label}: {s.error}" for s in self.starts if s.error or s.proxy is None]

    def times(self, attribute: str = "proxy") -> list[float]:
        return [getattr(s, attribute) for s in self.starts if getattr(s, attribute) is not None]


def process_cpu(pid: int) -> float:
    """CPU seconds used by process `pid` and its children it waited for (mkfs, iptables...)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting for I/O) since boot."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def engine_pid() -> int:
    return int(
        subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()[0]
    )


def solo_cpu(hub: RealHub, probe: Probe) -> float:
    """CPU seconds one of our servers uses from its start to its first answer (a solo start,
    which also warms the caches the rounds use)."""
    make_project(hub, "solo", ["solo"], plan="crowd")
    cpus = []
    for _ in range(3):
        start = hub_start(hub, probe, "solo", "solo", "solo")
        hub_stop(hub, "solo", "solo")
        if start.error or start.cpu is None:
            raise SystemExit(f"the solo start failed: {start.error}\n{hub.log(40)}")
        cpus.append(start.cpu)
    return median(cpus[1:])


def shapes(hub: RealHub, count: int) -> dict[str, list[tuple[str, str]]]:
    """The two loads on our hub, their projects made: N projects x 1 member, 1 project x N."""
    projects = [(f"u{i:02d}", f"p{i:02d}") for i in range(count)]
    for user, project in projects:
        make_project(hub, project, [user], plan="crowd")
    make_dataset(hub, "crowd")
    members = [(f"m{i:02d}", "crowd") for i in range(count)]
    make_project(hub, "crowd", [user for user, _ in members], plan="crowd")
    return {f"{count} projects x 1 member": projects, f"1 project x {count} members": members}


def measure(args, workdir: Path, probe: Probe) -> tuple[float, list[Run]]:
    ours = RealHub(workdir / "ours", extra_config=PLAN.format(servers=args.servers)).start()
    plain = PlainHub(workdir / "plain")
    runs: list[Run] = []
    try:
        plain.start()
        cpu = solo_cpu(ours, probe)
        print(f"  one server's start-up: {cpu:.2f} CPU s", flush=True)
        plain_pairs = [(f"v{i:02d}", "bench") for i in range(args.servers)]
        for user, _ in plain_pairs:
            plain.api("POST", f"/users/{user}")
        hub_start(plain, probe, *plain_pairs[0], "warm-up")  # the plain hub's first start
        hub_stop(plain, *plain_pairs[0])
        for label, pairs in shapes(ours, args.servers).items():
            for run in (Run(f"ours, {label}", ours, pairs),
                        Run(f"plain DockerSpawner, {args.servers} users", plain, plain_pairs)):  # fmt: skip
                runs.append(run.go(probe))
                print(f"  {run.label}: wall {run.wall:.1f} s, {len(run.failures())} failed "
                      f"(load {run.load})", flush=True)  # fmt: skip
        return cpu, runs
    finally:
        if any(r.failures() for r in runs):
            print("our hub's log, last lines:\n" + ours.log(60))
        ours.stop()
        plain.stop()


def measure_swarm(args, workdir: Path, probe: Probe) -> Run:
    """The projects shape on a single-node swarm (its task containers are named by the
    engine, so only the wall time and the through-the-proxy times are watched)."""
    from support.swarm import NodeAgent, SwarmMode, ensure_node_image

    client = probe.events.client
    ensure_node_image(client)
    with SwarmMode(client):
        agent = NodeAgent(workdir / "swarm", workdir / "swarm-agent").start()
        extra = PLAN.format(servers=args.servers) + SWARM.format(
            prefix=RUN_PREFIX, socket_dir=agent.socket_dir
        )
        hub = RealHub(workdir / "swarm", extra_config=extra).start()
        try:
            pairs = [(f"u{i:02d}", f"p{i:02d}") for i in range(args.servers)]
            for user, project in pairs:
                make_project(hub, project, [user], plan="crowd")
            run = Run(f"ours on a 1-node swarm, {args.servers} projects", hub, pairs)
            began = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(len(pairs)) as pool:
                run.starts = list(pool.map(lambda pair: swarm_start(hub, *pair), pairs))
            run.wall = time.perf_counter() - began
            run.load = load_average()
            return run
        finally:
            hub.stop()
            agent.stop()


def swarm_start(hub: RealHub, user: str, project: str) -> Start:
    start, began = Start(f"{user}/{project}"), time.time()
    answer = hub.api("POST", f"/users/{user}/servers/{project}")
    if answer.status_code not in (201, 202):
        start.error = f"{answer.status_code}: {answer.text[:200]}"
        return start
    url = f"{hub.url}/user/{user}/{project}/api/status"
    headers = {"Authorization": f"token {hub.token}"}
    while time.time() - began < 900:
        try:
            if requests.get(url, headers=headers, timeout=10, allow_redirects=False).ok:
                start.proxy = time.time() - began
                return start
        except requests.RequestException:
            pass
        time.sleep(INTERVAL)
    start.error = "not answering after 900 s"
    return start


def report(results: Results, cpu: float, runs: list[Run], servers: int) -> None:
    cores = os.cpu_count() or 1
    floor = servers * cpu / cores
    plain_walls = {r.label: r.wall for r in runs if r.label.startswith("plain")}
    rows = []
    for index, run in enumerate(runs):
        times, cpus = run.times(), run.times("cpu")
        plain = runs[index + 1] if not run.label.startswith("plain") and index + 1 < len(runs) \
            else None  # fmt: skip
        rows.append([
            run.label, f"{percentile(times, .5):.1f}", f"{percentile(times, .95):.1f}",
            f"{run.wall:.1f}", f"{len(run.failures())}/{len(run.pairs)}",
            f"{median(cpus):.2f}" if cpus else "-",
            f"{run.wall / plain.wall:.2f}" if plain else "-", f"{run.wall / floor:.2f}",
            *(f"{run.cpu.get(k, float('nan')):.1f}" for k in ("hub", "dockerd", "machine")),
            run.load,
        ])  # fmt: skip
    results.table(
        f"{servers} servers asked to start at once: request -> answering through the proxy (s)",
        ["run", "p50", "p95", "wall", "failed", "server CPU s at answer, median",
         "wall / plain's", "wall / floor", "hub CPU s", "dockerd CPU s",
         "machine busy CPU s", "load average after"], rows)  # fmt: skip
    steps = []
    for run in runs:
        done = [s for s in run.starts if s.proxy is not None and s.created is not None]
        if done:
            steps.append([run.label] + [
                f"{median(later - earlier for earlier, later in pair):.1f}"
                for pair in (((0.0, s.created) for s in done),
                             ((s.created, s.started) for s in done),
                             ((s.started, s.direct) for s in done),
                             ((s.direct, s.proxy) for s in done))])  # fmt: skip
    results.table("Where the time goes (medians, s)",
                  ["run", "request -> container created", "created -> started",
                   "started -> answering", "answering -> through the proxy"], steps)  # fmt: skip
    results.note(f"floor: {servers} x {cpu:.2f} CPU s (one server's start-up, solo) / {cores} "
                 f"cores = {floor:.1f} s")  # fmt: skip
    results.note(f"machine busy CPU s: every process's CPU time during the run, others' work "
                 f"included ({cores} cores x wall is all there was); the floor counts the "
                 f"servers alone")  # fmt: skip
    results.figures.update({"server_cpu_s": cpu, "floor_s": floor, "cores": cores,
                            "plain_walls": plain_walls})  # fmt: skip
    for index, run in enumerate(runs):
        if run.label.startswith("plain") or "swarm" in run.label:
            continue
        plain = runs[index + 1]
        results.figures[run.label] = {"p50": percentile(run.times(), .5), "wall": run.wall,
                                      "failures": len(run.failures())}  # fmt: skip
        results.goal(f"{run.label}: no failure ({len(run.failures())})", not run.failures())
        results.goal(f"{run.label}: wall <= plain DockerSpawner's under the same load "
                     f"(x{run.wall / plain.wall:.2f})", run.wall <= plain.wall)  # fmt: skip
        results.goal(f"{run.label}: wall <= 1.3 x the floor (x{run.wall / floor:.2f})",
                     run.wall <= 1.3 * floor)  # fmt: skip
    for run in runs:
        for failure in run.failures()[:5]:
            results.note(f"failure: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--swarm", action="store_true", help="add the projects shape on a swarm")
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    client.api.inspect_image(IMAGE)
    results = Results(
        "concurrency", f"Concurrency: {args.servers} servers at once, ours vs plain DockerSpawner "
        f"(image {IMAGE})",
        f"python tests/benchmarks/bench_concurrency.py --servers {args.servers}"
        + (" --swarm" if args.swarm else ""))  # fmt: skip
    events = EngineEvents(client)
    try:
        with tempfile.TemporaryDirectory() as folder:
            cpu, runs = measure(args, Path(folder), Probe(events, interval=INTERVAL))
            if args.swarm:
                docker_engine.remove_objects(client, only_dead=False)
                runs.append(measure_swarm(args, Path(folder), Probe(events, INTERVAL)))
    finally:
        events.close()
        docker_engine.remove_objects(client, only_dead=False)
    report(results, cpu, runs, args.servers)
    results.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
