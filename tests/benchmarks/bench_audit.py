"""Benchmark: filter, page, export and verify an audit record the size of a busy host's year.

Run with `make bench` (10 million entries) or `python tests/benchmarks/bench_audit.py --events N`.
The synthetic record (real chained entries, real segments) is generated once and kept in
build/bench/; figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jupyter_hds.audit.drain import Drainer
from jupyter_hds.audit.entry import GENESIS, entry_hash, to_line
from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.intake import new_event
from jupyter_hds.audit.query import AuditQuery, Filters
from jupyter_hds.audit.segments import segment_path, write_parquet
from jupyter_hds.audit.verify import Verifier
from jupyter_hds.audit.writer import ChainWriter

ROOT = Path(__file__).resolve().parents[2]
GENERATOR_VERSION = "2"
SEGMENT = 50_000
# A busy host: what happens, and how often (weights).
ACTIONS = {
    ("dataset.read", "allowed"): 52, ("server.open", "succeeded"): 10,
    ("login", "succeeded"): 8, ("logout", "succeeded"): 5, ("server.start", "succeeded"): 6,
    ("server.started", "succeeded"): 6, ("server.stopped", "succeeded"): 6,
    ("download.blocked", "refused"): 3, ("export.blocked", "refused"): 1,
    ("login.failed", "refused"): 1, ("server.refused", "refused"): 0.5,
    ("group.members.add", "succeeded"): 0.3, ("group.properties", "succeeded"): 0.1,
    ("token.create", "succeeded"): 0.1, ("quota.refused", "refused"): 0.2,
}  # fmt: skip


SERVER_SIDE = ("dataset", "download", "export")


def generate(directory: Path, count: int, seed: int = 2025) -> None:
    """A chained record of `count` entries over one year: sealed Parquet plus an open segment."""
    rng = np.random.default_rng(seed)
    users = [f"user{n:04d}" for n in range(2000)]
    projects = [f"project-{n:03d}" for n in range(150)]
    kinds = list(ACTIONS)
    weights = np.array(list(ACTIONS.values()), dtype=float)
    start = np.datetime64("2025-01-01T00:00:00", "us")
    step = np.int64(365 * 86400 * 10**6 // count)
    (directory / "segments").mkdir(parents=True)
    prev, seq = GENESIS, 0
    open_rows = min(count, count % SEGMENT or SEGMENT // 2)
    sealed = count - open_rows
    sizes = [SEGMENT] * (sealed // SEGMENT) + ([sealed % SEGMENT] if sealed % SEGMENT else [])
    for number, size in enumerate([*sizes, open_rows]):
        first = seq + 1
        offsets = np.arange(seq, seq + size, dtype=np.int64) * step
        times = np.datetime_as_string(start + offsets.astype("timedelta64[us]"), unit="us")
        ids = np.frombuffer(rng.bytes(16 * size), dtype="S16")
        kind = rng.choice(len(kinds), size, p=weights / weights.sum())
        actor = rng.integers(0, len(users), size)
        project = rng.integers(0, len(projects), size)
        rows = []
        for i in range(size):
            seq += 1
            action, outcome = kinds[kind[i]]
            who, where = users[actor[i]], projects[project[i]]
            when = times[i] + "Z"
            entry = {
                "seq": seq, "id": ids[i].hex(), "time": when, "recorded": when, "actor": who,
                "actor_kind": "user", "action": action, "project": where,
                "target": f"{who}/{where}", "outcome": outcome, "source": "10.1.2.3",
                "reported_by": f"server:{who}/{where}" if action.startswith(SERVER_SIDE) else "hub",
                "details": '{"route":"/files/"}' if outcome == "refused" else "{}", "prev": prev,
            }  # fmt: skip
            entry["hash"] = prev = entry_hash(entry)
            rows.append(entry)
        if number < len(sizes):
            write_parquet(segment_path(directory, first, "parquet"), rows)
        else:  # the last segment is still open: JSON lines, as the writer leaves it
            segment_path(directory, first, "jsonl").write_bytes(b"".join(map(to_line, rows)))
        print(f"\r  generated {seq:,} / {count:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def record_for(count: int) -> Path:
    directory = ROOT / "build" / "bench" / f"audit-{count}-v{GENERATOR_VERSION}"
    if (directory / "complete").exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    print(f"generating a {count:,}-entry record in {directory} (once) ...", file=sys.stderr)
    began = time.perf_counter()
    generate(directory, count)
    (directory / "complete").write_text(f"{time.perf_counter() - began:.0f} s\n")
    return directory


def timed(function: Callable, repeat: int = 3) -> tuple[float, object]:
    """Median wall time in seconds over `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def filters(**values) -> Filters:
    return Filters.parse(lambda name: values.get(name))


MONTH = {"since": "2025-06-01", "until": "2025-06-30"}
DAY = {"since": "2025-09-15", "until": "2025-09-15"}
REFUSED = {"outcome": "refused"}
# (what is measured, filters, page cursor or None for a count)
QUERIES = [
    ("newest page, no filter", {}, "page"),
    ("count, no filter", {}, "count"),
    ("person: page", {"person": "user0042"}, "page"),
    ("person: count", {"person": "user0042"}, "count"),
    ("project + one month: page", {"project": "project-007", **MONTH}, "page"),
    ("project + one month: count", {"project": "project-007", **MONTH}, "count"),
    ("action prefix 'download' + refused: count", {"action": "download", **REFUSED}, "count"),
    ("failed logins, one day: page", {"action": "login.failed", **DAY}, "page"),
    ("deep page (older than the middle entry)", {}, "middle"),
]  # fmt: skip


def query_figures(query: AuditQuery, total: int) -> list[tuple[str, float, str]]:
    out = []
    for name, values, kind in QUERIES:
        chosen = filters(**values)
        if kind == "count":
            seconds, found = timed(lambda chosen=chosen: query.count(chosen))
            out.append((name, seconds, f"{found:,} rows"))
            continue
        before = total // 2 if kind == "middle" else None
        seconds, page = timed(lambda chosen=chosen, before=before: query.page(chosen, before))
        out.append((name, seconds, f"{len(page.rows)} rows"))
    seconds, _ = timed(query.choices)
    out.append(("filter suggestions (distinct names)", seconds, ""))
    return out


def export_figure(query: AuditQuery) -> tuple[str, float, str]:
    chosen = filters(project="project-007", **MONTH)
    seconds, rows = timed(lambda: sum(len(batch) for batch in query.export(chosen)), repeat=1)
    return ("CSV rows of one project-month (fetch)", seconds, f"{rows:,} rows")


def verify_figures(directory: Path) -> list[tuple[str, float, str]]:
    verifier = Verifier(directory)
    full, report = timed(verifier.verify, repeat=1)
    assert report.intact, report.lines()
    again, _ = timed(verifier.verify, repeat=3)
    rate = report.entries / full
    return [
        ("verify, full (every hash recomputed)", full, f"{report.entries:,} entries, {rate:,.0f}/s"),  # noqa: E501
        ("verify, again (sealed segments unchanged)", again, "open segment re-checked"),
    ]  # fmt: skip


def write_figure(events: int = 20_000) -> tuple[str, float, str]:
    """Inbox to chained record: how fast the audit service drains a burst (fsync on)."""
    with tempfile.TemporaryDirectory() as folder:
        inbox, writer = Inbox(folder), ChainWriter(folder, fsync=True).open()
        batch = [new_event("dataset.read", "alice", "user", "allowed") for _ in range(events)]
        for start in range(0, events, 100):
            inbox.put(batch[start : start + 100])
        began = time.perf_counter()
        Drainer(inbox, writer).drain()
        seconds = time.perf_counter() - began
        writer.close()
    return ("drain a burst from the inbox (fsync)", seconds, f"{events / seconds:,.0f} events/s")


def size_of(directory: Path) -> int:
    return sum(p.stat().st_size for p in (directory / "segments").iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    directory = record_for(args.events)
    query = AuditQuery(directory)
    figures = query_figures(query, args.events) + [export_figure(query)]
    figures += verify_figures(directory) + [write_figure()]
    segments = len(list((directory / "segments").iterdir()))
    print(f"\naudit record benchmark: {args.events:,} entries, {segments} segments, "
          f"{size_of(directory) / 2**20:,.0f} MiB on disk, {os.cpu_count()} CPU(s)")  # fmt: skip
    print(f"{'operation':<48} {'seconds':>9}  result")
    for name, seconds, shown in figures:
        print(f"{name:<48} {seconds:>9.3f}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
