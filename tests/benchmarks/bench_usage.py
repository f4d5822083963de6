"""Usage benchmark: DuckDB over a year of ledger, the queries the hub and the hosting team run.

Writes a synthetic ledger (12 month files; sessions of up to 8 h, 200 projects, 2000 users, and
the census's hourly record of each project),
then prints the seconds of: the monthly summary (the usage page, `hds usage summary`), the
compute of every project (the hub's compute watch: one scan per check interval), the open
sessions (the hourly census), and appending records (the hub at each start and stop).
Run: `make bench`, or this file with the venv's python.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hds_quota.ledger import Ledger, plan_fields, server_stopped
from hds_quota.plans import Plans
from hds_quota.usage import Month, Usage

PROJECTS = 200


def write_ledger(folder: Path, sessions_per_month: int, seed: int = 1) -> int:
    """One file per month of 2026: `sessions_per_month` start/stop pairs, and a `project`
    record of every project every hour: the census's worst case, every project's members or
    storage changing every hour (an unchanged project is not written again); bytes written."""
    plan, rng, size = plan_fields(Plans().get("public")), random.Random(seed), 0  # noqa: S311 (test data)
    for month in range(1, 13):
        first = datetime(2026, month, 1, tzinfo=UTC)
        hours = int((Month(2026, month).following.start - first).total_seconds() // 3600)
        lines = [
            {"time": stamp(first + timedelta(hours=hour)), "kind": "project",
             "project": f"p{project}", **plan, "members": 5, "storage_used": 10**9}
            for hour in range(hours)
            for project in range(PROJECTS)
        ]  # fmt: skip
        for _ in range(sessions_per_month):
            project, user = f"p{rng.randrange(PROJECTS)}", f"u{rng.randrange(2000)}"
            began = datetime(2026, month, 1, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(27 * 86400)
            )
            ended = began + timedelta(hours=rng.random() * 8)
            common = {"project": project, "server": project, "user": user}
            lines.append({"time": stamp(began), "kind": "start", **common, **plan,
                          "members": 5, "storage_used": 10**9})  # fmt: skip
            lines.append({"time": stamp(ended), "kind": "stop", **common, "reason": "stopped",
                          "storage_used": 10**9})  # fmt: skip
        lines.sort(key=lambda line: line["time"])
        text = "".join(json.dumps(line) + "\n" for line in lines)
        (folder / f"ledger-2026-{month:02d}.jsonl").write_text(text)
        size += len(text)
    return size


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def timed(function: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1000, 5000, 20000],
                        help="server sessions per month")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    december = Month(2026, 12)
    now = datetime(2026, 12, 31, tzinfo=UTC)
    for per_month in args.sessions:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            size = write_ledger(folder, per_month)
            usage = Usage(Ledger(folder))
            print(f"{per_month} sessions a month, 12 months, {size / 1e6:.0f} MB of ledger:")
            queries = {
                "summary of a month (page, CLI)": lambda u=usage: u.summary(december, now),
                "compute of every project (hub watch)": lambda u=usage: u.cpu_hours_by_project(
                    december, now
                ),
                "open sessions (census)": usage.open_sessions,
            }
            for label, function in queries.items():
                times = timed(function, args.rounds)
                print(f"  {label:38s} median {statistics.median(times):6.3f} s")
            ledger = Ledger(folder / "appends")
            record = server_stopped("p1", "u1", "stopped")
            appends = timed(lambda led=ledger, rec=record: led.append(rec), 200)
            print(f"  {'one append (fsync)':38s} median {statistics.median(appends):6.4f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
