"""Stop benchmark: how soon a server stops once it must, on the real hub with real containers.

Four reasons a running server stops without its owner asking: the member is removed from the
project (the project guard), the project's end date passes (the guard), the project's compute
runs out (the usage service's watch), the server sits idle past its plan's timeout (the idle
culler). Prints, for each, the median seconds from the moment the server had to stop to the
moment it was gone. The tests assert that each stop happens (and, for compute and idle, not
before its time); this is where the delays are measured. Run: `make bench`, or this file with
the venv's python (after `make images`; as root, for the project volumes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import docker_engine  # noqa: E402
from support.hub import RealHub, make_project  # noqa: E402

CPU_HOURS = 0.005  # the metered plan's month: 18 s of a 1-CPU server
IDLE_TIMEOUT = 15  # the brief plan's idle timeout, in seconds


def extra_config(compute_check: float, idle_check: int) -> str:
    return f"""
        from hds_quota.plans import DEFAULT_PLANS
        base = {{**DEFAULT_PLANS["public"], "storage": "64M", "cpu": 1, "memory": "512M"}}
        c.Plans.idle_timeout_floor = 10
        c.Plans.plans.update({{
            "metered": {{**base, "cpu_hours_month": {CPU_HOURS}}},
            "brief": {{**base, "idle_timeout": {IDLE_TIMEOUT}}},
        }})
        c.Quotas.compute_check_interval = {compute_check}
        c.Quotas.idle_check_interval = {idle_check}
        c.JupyterHub.last_activity_interval = 5
    """


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ledger_time(hub: RealHub, kind: str, user: str, project: str) -> datetime:
    """The time of the last `kind` record of `user`'s server for `project`."""
    times = []
    for path in sorted((hub.state_dir / "usage").glob("ledger-*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if (record["kind"], record.get("user"), record["project"]) == (kind, user, project):
                times.append(parse_time(record["time"]))
    return times[-1]


def start(hub: RealHub, user: str, project: str) -> dict:
    hub.api("POST", f"/users/{user}/servers/{project}").raise_for_status()
    return hub.wait_for_server(user, project)


def gone_after(hub: RealHub, user: str, project: str, trigger: Callable[[], object]) -> float:
    """Seconds from `trigger()` returning to the hub no longer listing the server."""
    trigger()
    began = time.perf_counter()
    while project in hub.api("GET", f"/users/{user}").json().get("servers", {}):
        if time.perf_counter() - began > 600:
            raise TimeoutError(f"{user}/{project} still runs after 600 s:\n{hub.log()}")
        time.sleep(0.1)
    return time.perf_counter() - began


def removal(hub: RealHub, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        make_project(hub, "alpha", ["ann"])
        start(hub, "ann", "alpha")
        remove = partial(hub.api, "DELETE", "/groups/alpha/users", json={"users": ["ann"]})
        times.append(gone_after(hub, "ann", "alpha", remove))
    return times


def expiry(hub: RealHub, rounds: int) -> list[float]:
    times = []
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    for _ in range(rounds):
        make_project(hub, "ending", ["bea"])  # no end date
        start(hub, "bea", "ending")
        properties = {"plan": "public", "dataset": "ending", "expires": yesterday}
        end = partial(hub.api, "PUT", "/groups/ending/properties", json=properties)
        times.append(gone_after(hub, "bea", "ending", end))
    return times


def compute(hub: RealHub, rounds: int) -> list[float]:
    """Seconds from the compute running out (start + allowance) to the ledger's stop."""
    times = []
    allowance = timedelta(hours=CPU_HOURS)  # on 1 CPU
    for index in range(rounds):
        project = f"meter-{index}"  # a fresh month of compute each round
        make_project(hub, project, ["cid"], plan="metered")
        start(hub, "cid", project)
        hub.wait_for_server("cid", project, ready=False, timeout=600)
        ran_out = ledger_time(hub, "start", "cid", project) + allowance
        times.append((ledger_time(hub, "stop", "cid", project) - ran_out).total_seconds())
    return times


def idle(hub: RealHub, rounds: int) -> list[float]:
    """Seconds from the idle timeout passing (last activity + timeout) to the ledger's stop."""
    times = []
    make_project(hub, "brief", ["dee"], plan="brief")
    for _ in range(rounds):
        server = start(hub, "dee", "brief")
        hub.wait_for_server("dee", "brief", ready=False, timeout=600)
        # The culler's clock starts at the last activity, which only moves later after this.
        active = parse_time(server["last_activity"] or server["started"])
        timed_out = active + timedelta(seconds=IDLE_TIMEOUT)
        times.append((ledger_time(hub, "stop", "dee", "brief") - timed_out).total_seconds())
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compute-check-interval", type=float, default=2.0)
    parser.add_argument("--idle-check-interval", type=int, default=3)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    config = extra_config(args.compute_check_interval, args.idle_check_interval)
    try:
        with tempfile.TemporaryDirectory() as folder:
            hub = RealHub(Path(folder), extra_config=config).start()
            try:
                results = {
                    "member removed (guard)": removal(hub, args.rounds),
                    "end date passed (guard)": expiry(hub, args.rounds),
                    "compute ran out (usage watch)": compute(hub, args.rounds),
                    "idle timeout passed (culler)": idle(hub, args.rounds),
                }
            finally:
                hub.stop()
    finally:
        docker_engine.remove_objects(client, only_dead=False)
    print(
        f"seconds from the moment a server must stop to it being gone, {args.rounds} rounds; "
        f"guard sweep 5 s (shipped), compute check {args.compute_check_interval} s and "
        f"idle check {args.idle_check_interval} s (shipped: 60 s each)"
    )
    for label, times in results.items():
        print(f"  {label:32s} median {statistics.median(times):6.2f} s"
              f"  (min {min(times):.2f}, max {max(times):.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
