"""Benchmark: the auditors' access report over a month of 1 million audit entries.

Run with `make bench` or `python tests/benchmarks/bench_report.py [--events N]`. The month (real
chained entries: sealed Parquet segments and an open JSON-lines one, plus the same entries as
one JSON-lines file) is generated once with Arrow and kept in build/bench/ (`--regenerate`
makes and times it again). Printed side by side: the report by DuckDB (`audit.report.build`)
and its page, and the same figures computed in Python over the JSON lines (load, group,
count). Both must agree; speed is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from bench_audit import chained  # noqa: E402 (the sibling benchmark's chaining)

from jupyter_hds.audit.entry import GENESIS, message_array, to_line  # noqa: E402
from jupyter_hds.audit.pages import TEMPLATES  # noqa: E402
from jupyter_hds.audit.query import AuditQuery  # noqa: E402
from jupyter_hds.audit.report import RULES, AccessReport, Month, build  # noqa: E402
from jupyter_hds.audit.segments import segment_path, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VERSION = "1"
SEGMENT = 50_000
ZONE = "Europe/Paris"
MONTH = Month(2025, 6)
USERS, PROJECTS, FILES = 2000, 150, 30
NIGHT_SHARE = 0.002  # of entries, at night (20:00-06:30 local)
# What happens in a project's month, and how often (weights).
ACTIONS = {
    ("dataset.read", "allowed"): 55, ("server.open", "succeeded"): 10,
    ("login", "succeeded"): 8, ("logout", "succeeded"): 5, ("server.start", "succeeded"): 6,
    ("server.started", "succeeded"): 6, ("server.stopped", "succeeded"): 5.6,
    ("server.exited", "failed"): 0.4, ("download.blocked", "refused"): 2,
    ("export.blocked", "refused"): 0.5, ("dataset.read.blocked", "refused"): 0.5,
    ("server.refused", "refused"): 0.3, ("airlock.requested", "succeeded"): 0.2,
    ("airlock.downloaded", "succeeded"): 0.2, ("group.members.add", "succeeded"): 0.1,
}  # fmt: skip
NO_PROJECT = ("login", "logout", "group.members.add")
BY_HUB = ("server.started", "server.stopped", "server.exited")
FROM_SERVER = ("dataset.read", "download.blocked", "export.blocked", "dataset.read.blocked")


def zipf_weights() -> np.ndarray:
    """project-000 holds about a fifth of the month, a median project a few thousand entries."""
    weights = 1 / np.arange(1, PROJECTS + 1)
    return weights / weights.sum()


def month_table(rng: np.random.Generator, count: int) -> pa.Table:
    """`count` entries of June 2025 in time order, every column but `seq`, `prev` and `hash`."""
    kinds = list(ACTIONS)
    weights = np.array(list(ACTIONS.values()))
    kind = rng.choice(len(kinds), count, p=weights / weights.sum())
    project = rng.choice(PROJECTS, count, p=zipf_weights())
    members = np.maximum(4, 300 // (project + 1))
    user = (project * 37 + rng.integers(0, members)) % USERS
    # Each person mostly opens a few files of the dataset; requests have ids of their own.
    table_no = (user + rng.geometric(0.35, count) - 1) % FILES
    local_midnight = np.datetime64("2025-05-31T22:00:00", "us")  # 1 June, 00:00 in Paris
    day = rng.integers(0, 30, count).astype("timedelta64[D]").astype("timedelta64[us]")
    night = rng.random(count) < NIGHT_SHARE
    seconds = np.where(night, rng.uniform(20 * 3600, 30.5 * 3600, count),
                       rng.uniform(8 * 3600, 19 * 3600, count))  # fmt: skip
    moments = local_midnight + day + (seconds * 1e6).astype("timedelta64[us]")
    columns = {
        "kind": kind, "project": project, "user": user, "file": table_no, "moment": moments,
    }  # fmt: skip
    planted = planted_events()
    for name in columns:
        columns[name] = np.concatenate([columns[name], planted[name]])
    order = np.argsort(columns["moment"], kind="stable")
    return _table({name: values[order] for name, values in columns.items()}, rng, kinds)


def planted_events() -> dict[str, np.ndarray]:
    """Anomalies a DPO should see in project-000 and project-075: a burst of refused
    downloads (12 in 4 minutes) and 40 files never opened before, opened within 30 minutes."""
    kinds = list(ACTIONS)
    rows = []
    for project, user, day in ((0, 5, 11), (75, (75 * 37) % USERS, 17)):
        base = np.datetime64("2025-05-31T22:00:00", "us") + np.timedelta64(day, "D")
        for n in range(12):  # 10:00 local
            rows.append((kinds.index(("download.blocked", "refused")), project, user, 0,
                         base + np.timedelta64(10 * 3600 + n * 20, "s")))  # fmt: skip
        for n in range(40):  # 14:00 local, files numbered after the dataset's own
            rows.append((kinds.index(("dataset.read", "allowed")), project, user + 1,
                         FILES + n, base + np.timedelta64(14 * 3600 + n * 45, "s")))  # fmt: skip
    names = ("kind", "project", "user", "file", "moment")
    return {name: np.array([row[i] for row in rows]) for i, name in enumerate(names)}


def _table(c: dict[str, np.ndarray], rng: np.random.Generator, kinds: list) -> pa.Table:
    size = len(c["kind"])
    action = pa.array([a for a, _ in kinds]).take(pa.array(c["kind"]))
    outcome = pa.array([o for _, o in kinds]).take(pa.array(c["kind"]))
    users = pa.array([f"user{n:04d}" for n in range(USERS)]).take(pa.array(c["user"]))
    projects = pa.array([f"project-{n:03d}" for n in range(PROJECTS)]).take(pa.array(c["project"]))
    files = pa.array([f"dataset/table_{n:02d}.parquet" for n in range(FILES + 40)])
    server = pc.binary_join_element_wise(users, projects, "/")
    dataset_file = files.take(pa.array(c["file"]))
    request = pc.binary_join_element_wise(
        "req-", projects, pa.array((c["user"] % 7).astype(str)), ""
    )
    no_project = pc.is_in(action, pa.array(NO_PROJECT))
    by_hub = pc.is_in(action, pa.array(BY_HUB))
    from_server = pc.is_in(action, pa.array(FROM_SERVER))
    airlock = pc.starts_with(action, "airlock.")
    target = pc.if_else(from_server, dataset_file,
                        pc.if_else(airlock, request, pc.if_else(no_project, users, server)))  # fmt: skip
    refused = pc.equal(outcome, "refused")
    when = pc.binary_join_element_wise(  # 2025-06-01 08:00:00.123456 to 2025-06-01T...Z
        pc.replace_substring(pc.cast(pa.array(c["moment"]), pa.string()), " ", "T",
                             max_replacements=1), "Z", "")  # fmt: skip
    ids = np.frombuffer(rng.bytes(16 * size).hex().encode(), dtype="S32")
    null = pa.nulls(size, pa.string())
    return pa.table({
        "id": pa.array(ids).cast(pa.string()), "time": when, "recorded": when,
        "actor": pc.if_else(by_hub, "service:jupyterhub", users),
        "actor_kind": pc.if_else(by_hub, "service", "user"), "action": action,
        "project": pc.if_else(no_project, null, projects), "target": target,
        "outcome": outcome, "source": pc.if_else(by_hub, null, "10.1.2.3"),
        "reported_by": pc.if_else(from_server, pc.binary_join_element_wise("server:", server, ""),
                                  "hub"),
        "details": pc.if_else(refused, '{"reason":"file downloads are disabled"}', "{}"),
    })  # fmt: skip


def generate(directory: Path, count: int, seed: int = 2025) -> None:
    """The record (sealed segments, an open one) and the same entries as one JSON-lines file."""
    rng = np.random.default_rng(seed)
    (directory / "segments").mkdir(parents=True)
    table = month_table(rng, count)
    total = len(table)
    table = pa.table({"seq": pa.array(np.arange(1, total + 1, dtype=np.int64)),
                      **{n: table[n] for n in table.column_names}})  # fmt: skip
    open_rows = total % SEGMENT or SEGMENT // 2
    prev, start = GENESIS, 0
    while start < total:
        size = SEGMENT if total - start > open_rows else total - start
        part = table.slice(start, size).append_column("prev", pa.array([GENESIS] * size))
        heads = pc.binary_slice(pc.cast(message_array(part), pa.binary()), 0, -len(GENESIS))
        part, prev = chained(part, heads.to_numpy(zero_copy_only=False).tolist(), prev)
        if start + size < total:
            write_table(segment_path(directory, start + 1, "parquet"), part)
        else:
            lines = b"".join(map(to_line, part.to_pylist()))
            segment_path(directory, start + 1, "jsonl").write_bytes(lines)
        start += size
    source = AuditQuery(directory).source()
    duckdb.connect().execute(
        f"COPY (SELECT * FROM {source} ORDER BY seq) TO '{directory / 'month.jsonl'}' "  # noqa: S608
        "(FORMAT json)"
    )


def record_for(count: int, regenerate: bool) -> tuple[Path, float, bool]:
    directory = ROOT / "build" / "bench" / f"report-{count}-v{VERSION}"
    if (directory / "complete").exists() and not regenerate:
        return directory, float((directory / "complete").read_text().split()[0]), False
    shutil.rmtree(directory, ignore_errors=True)
    print(f"generating a {count:,}-entry month in {directory} ...", file=sys.stderr)
    began = time.perf_counter()
    generate(directory, count)
    seconds = time.perf_counter() - began
    (directory / "complete").write_text(f"{seconds:.1f} s\n")
    return directory, seconds, True


# -- the same report in Python, over the JSON lines ----------------------------------------

OUTWARD = {"download.blocked", "export.blocked", "dataset.read.blocked", "dataset.copy.blocked",
           "dataset.move.blocked", "airlock.downloaded"}  # fmt: skip


def python_load(path: Path) -> list[dict]:
    with path.open() as stream:
        return [json.loads(line) for line in stream]


def python_report(rows: list[dict], project: str, rules: AccessReport) -> dict:
    """The report's figures, grouped and counted in Python (the rules as report.py states them)."""
    zone = rules.zone
    start, end = (_text(t) for t in MONTH.bounds(zone))
    work_start, work_end = rules.hours()
    reads: dict = defaultdict(lambda: [0, 0, None, None])
    refusals: dict = defaultdict(list)
    servers: dict = defaultdict(list)
    releases = opens = 0
    for row in rows:
        if not start <= row["time"] < end or row["project"] != project:
            continue
        action, person, moment = row["action"], row["actor"], _moment(row["time"])
        if action == "dataset.read":
            entry = reads[(person, row["target"])]
            local = moment.astimezone(zone)
            minute = local.hour * 60 + local.minute
            entry[0] += 1
            entry[1] += not work_start <= minute < work_end
            entry[2] = entry[2] or moment
            entry[3] = moment
        elif row["outcome"] == "refused":
            refusals[person].append((moment, action))
        if action.startswith("airlock."):
            releases += 1
        elif action == "server.open":
            opens += 1
        elif action in ("server.started", "server.stopped", "server.exited"):
            servers[row["target"]].append((moment, action))
    return {
        "reads": sum(r[0] for r in reads.values()),
        "files": len(reads),
        "night reads": sum(r[1] for r in reads.values()),
        "refusals": sum(len(r) for r in refusals.values()),
        "refusal bursts": sum(
            _bursts(
                [m for m, a in found if a in OUTWARD],
                rules.refusal_burst,
                rules.refusal_burst_minutes,
            )  # fmt: skip
            for found in refusals.values()
        ),
        "release steps": releases,
        "opens": opens,
        "sessions": sum(_sessions(events) for events in servers.values()),
    }


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _bursts(moments: list[datetime], least: int, minutes: int) -> int:
    """How many bursts: runs of overlapping `minutes`-spans holding `least` events or more."""
    window, count, last_end = deque[datetime](), 0, None
    span = minutes * 60
    for moment in sorted(moments):
        window.append(moment)
        while (moment - window[0]).total_seconds() > span:
            window.popleft()
        if len(window) >= least:
            if last_end is None or (moment - last_end).total_seconds() > span:
                count += 1
            last_end = moment
    return count


def _sessions(events: list[tuple[datetime, str]]) -> int:
    """Runs from a start to the next start; a stop first means one running since before."""
    events.sort()
    starts = sum(1 for _, action in events if action == "server.started")
    return starts + (bool(events) and events[0][1] != "server.started")


def duckdb_figures(report) -> dict:
    return {
        "reads": sum(r.reads for r in report.reads),
        "files": len(report.reads),
        "night reads": sum(r.night for r in report.reads),
        "refusals": len(report.refusals),
        "refusal bursts": sum(1 for a in report.anomalies if a.rule == "refusal-burst"),
        "release steps": len(report.releases),
        "opens": sum(p.opens for p in report.people),
        "sessions": len(report.sessions),
    }


# -- measuring -----------------------------------------------------------------------------


def timed(function: Callable, repeat: int = 5) -> tuple[float, object]:
    """Median wall seconds over `repeat` runs, and the last result."""
    return timed_cpu(function, repeat)[::2]  # type: ignore[return-value]


def timed_cpu(function: Callable, repeat: int = 5) -> tuple[float, float, object]:
    """Median wall seconds and CPU seconds (every thread of this process) over `repeat` runs."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        began, used = time.perf_counter(), cpu_seconds()
        result = function()
        walls.append(time.perf_counter() - began)
        cpus.append(cpu_seconds() - used)
    return statistics.median(walls), statistics.median(cpus), result


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def render(report, rules: AccessReport) -> str:
    return TEMPLATES.get_template("report.html").render(
        user="dpo", prefix="/services/audit/", hub_prefix="/hub/", project=report.project,
        month=report.month, report=report, projects=[], rules=RULES,
        explained=rules.explain(), shown=1000,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--regenerate", action="store_true", help="generate the month again")
    args = parser.parse_args(argv)
    directory, generated, now = record_for(args.events, args.regenerate)
    rules = AccessReport(time_zone=ZONE)
    query = AuditQuery(directory)
    began = time.perf_counter()
    rows = python_load(directory / "month.jsonl")
    loaded = time.perf_counter() - began
    print(f"\naccess report benchmark: {len(rows):,} entries in {MONTH} ({ZONE}), "
          f"{len(list((directory / 'segments').iterdir()))} segments, {os.cpu_count()} CPU(s); "
          f"record generated in {generated:.1f} s ({'this run' if now else 'earlier'})")  # fmt: skip
    print(f"{'project':<12} {'entries':>8} {'DuckDB report':>14} {'(CPU)':>7} {'+ page':>8} "
          f"{'Python: load':>13} {'group, count':>13} {'total':>7}  agree")  # fmt: skip
    for project in ("project-000", "project-075"):
        entries = sum(1 for r in rows if r["project"] == project)
        built, used, report = timed_cpu(lambda p=project: build(query, p, MONTH, rules))
        page, html = timed(lambda r=report: render(r, rules))
        grouped, figures = timed(lambda p=project: python_report(rows, p, rules), repeat=1)
        agree = figures == duckdb_figures(report)
        print(f"{project:<12} {entries:>8,} {built:>13.3f}s {used:>6.2f}s {page:>7.3f}s {loaded:>12.2f}s "
              f"{grouped:>12.2f}s {loaded + grouped:>6.1f}s  {'yes' if agree else 'NO'}")  # fmt: skip
        if not agree:
            print(f"  DuckDB {duckdb_figures(report)}\n  Python {figures}")
        anomalies = {rule: 0 for rule in RULES}
        for anomaly in report.anomalies:
            anomalies[anomaly.rule] += 1
        print(f"  {len(report.people)} people, {figures['reads']:,} reads of {figures['files']:,}"
              f" (person, file) pairs, {figures['sessions']:,} sessions, anomalies {anomalies}, "
              f"page {len(html) / 1e6:.1f} MB")  # fmt: skip
    print(f"\nWall seconds: medians of 5 runs, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPU(s); CPU seconds count every thread of this process.")  # fmt: skip
    print("DuckDB reads the columns it needs and pushes the project and the month into the")
    print("Parquet scan; Python parses every JSON line (json.loads), then filters and groups.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
