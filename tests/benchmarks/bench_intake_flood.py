"""The hub's API latency while one user's server floods the audit intake: figures, no asserts.

A real hub and a real project server of the image. From inside the server's container, as
the researcher's code could with the server's token (every kernel sees it), threads post
batches of events to /hub/api/hds/audit/events as fast as the hub answers. Meanwhile the
host asks the hub's REST API through the proxy (GET /hub/api/users/<name>, admin token) and
times each answer. Phases: no flood; a flood against the default limits (AuditIntake); a
flood with the limits lifted (what the hub would face without them).

    HDS_SINGLEUSER_IMAGE=... .venv/bin/python tests/benchmarks/bench_intake_flood.py \
        [--seconds 20] [--threads 4] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import docker_engine  # noqa: E402
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import RealHub, make_dataset, make_project  # noqa: E402

USER, PROJECT = "ann", "flood"
NO_LIMITS = """
c.AuditIntake.server_rate = 1e9
c.AuditIntake.server_burst = 10**9
c.AuditIntake.server_daily_bytes = 10**15
"""
FLOOD = """
import json, os, threading, time, urllib.error, urllib.request, uuid
from datetime import datetime, timezone
URL = os.environ["JUPYTERHUB_API_URL"] + "/hds/audit/events"
HEADERS = {"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"],
           "Content-Type": "application/json"}
USER, PROJECT = os.environ["JUPYTERHUB_USER"], os.environ["JUPYTERHUB_SERVER_NAME"]
SECONDS, THREADS, BATCH = (float(os.environ["FLOOD_SECONDS"]), int(os.environ["FLOOD_THREADS"]),
                           int(os.environ["FLOOD_BATCH"]))
statuses, accepted, lock = {}, [0], threading.Lock()

def event(n):
    return {"id": uuid.uuid4().hex, "time": datetime.now(timezone.utc).isoformat(),
            "action": "download.blocked", "actor": USER, "project": PROJECT,
            "target": f"work/flood-{n}.csv", "outcome": "refused", "source": None,
            "details": {"route": "/files", "method": "GET", "reason": "flood"}}

def worker():
    end, n = time.monotonic() + SECONDS, 0
    while time.monotonic() < end:
        body = json.dumps({"events": [event(n + i) for i in range(BATCH)]}).encode()
        n += BATCH
        request = urllib.request.Request(URL, data=body, method="POST", headers=HEADERS)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, took = response.status, len(json.load(response)["accepted"])
        except urllib.error.HTTPError as error:
            status, took = error.code, 0
        except OSError:
            status, took = "error", 0
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            accepted[0] += took

threads = [threading.Thread(target=worker) for _ in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"requests": statuses, "accepted": accepted[0]}))
"""


def probe(hub: RealHub, seconds: float) -> list[float]:
    """Seconds taken by each GET /hub/api/users/<name> for `seconds`, one after the other."""
    took, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        hub.api("GET", f"/users/{USER}").raise_for_status()
        took.append(time.perf_counter() - began)
        time.sleep(0.02)
    return took


def flood(container, seconds: float, threads: int, batch: int) -> dict:
    environment = {"FLOOD_SECONDS": str(seconds), "FLOOD_THREADS": str(threads),
                   "FLOOD_BATCH": str(batch)}  # fmt: skip
    result = container.exec_run(["python", "-c", FLOOD], environment=environment,
                                user="1000:1000")  # fmt: skip
    if result.exit_code != 0:
        raise RuntimeError(result.output.decode())
    return json.loads(result.output.decode().strip().splitlines()[-1])


def run_phase(hub, container, args, flooding: bool) -> tuple[list[float], dict]:
    outcome: dict = {}
    if flooding:
        worker = threading.Thread(
            target=lambda: outcome.update(flood(container, args.seconds, args.threads, args.batch))
        )
        worker.start()
        time.sleep(1)  # the flood is under way
    took = probe(hub, args.seconds - (1 if flooding else 0))
    if flooding:
        worker.join()
    return took, outcome


def report(label: str, took: list[float], outcome: dict, seconds: float) -> None:
    ms = sorted(t * 1000 for t in took)
    p95 = ms[int(len(ms) * 0.95) - 1]
    line = (f"  {label:34s} API p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  "
            f"max {ms[-1]:7.1f} ms  ({len(ms)} requests)")  # fmt: skip
    print(line)
    if outcome:
        requests_ = ", ".join(f"{k}: {v}" for k, v in sorted(outcome["requests"].items(), key=str))
        print(f"  {'':34s} intake requests {requests_}; events accepted {outcome['accepted']} "
              f"({outcome['accepted'] / seconds:,.0f}/s)")  # fmt: skip


def with_hub(workdir: Path, extra: str, client, args, phases) -> None:
    hub = RealHub(workdir, extra_config=extra).start()
    try:
        make_dataset(hub, "flood-data")
        make_project(hub, PROJECT, [USER], dataset="flood-data")
        hub.api("POST", f"/users/{USER}/servers/{PROJECT}").raise_for_status()
        hub.wait_for_server(USER, PROJECT)
        container = client.containers.get(f"{RUN_PREFIX}-{USER}--{PROJECT}")
        for label, flooding in phases:
            took, outcome = run_phase(hub, container, args, flooding)
            report(label, took, outcome, args.seconds)
        hub.api("DELETE", f"/users/{USER}/servers/{PROJECT}")
        hub.wait_for_server(USER, PROJECT, ready=False)
    finally:
        hub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    print(f"Hub API latency (through the proxy) while one server floods the audit intake: "
          f"{args.threads} threads, batches of {args.batch}, {args.seconds:.0f} s a phase; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as folder:
            with_hub(Path(folder) / "limits", "", client, args,
                     [("no flood", False), ("flood, default limits", True)])  # fmt: skip
            with_hub(Path(folder) / "lifted", NO_LIMITS, client, args,
                     [("flood, limits lifted", True)])  # fmt: skip
    finally:
        docker_engine.remove_objects(client, only_dead=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
