"""The shared append-only writer against SQLite in WAL mode, on this machine's disk: figures only.

Why JSON lines (hds_records.journal) and not SQLite: run this and compare. Each case appends
events the way the hub, the ledger and the data guard do: one event per durable append
(fsync, or SQLite's commit with synchronous=FULL), batches of 100, and two processes at once
(the hub and a service writing the same inbox). Prints events per second and the latency of
one durable append.

    .venv/bin/python tests/benchmarks/bench_records.py [--events 2000] [--dir DIR]

DIR defaults to a folder under ./var (the state folder's disk, not a tmpfs).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from hds_records import journal

EVENT = {
    "id": "",
    "time": "2025-06-01T09:30:00.000000Z",
    "actor": "alice",
    "actor_kind": "user",
    "action": "dataset.read",
    "project": "cohort-a",
    "target": "dataset/patients.csv",
    "outcome": "allowed",
    "source": "10.0.0.7",
    "reported_by": "server:alice/cohort-a",
    "details": {"route": "/api/contents", "method": "GET", "reason": "dataset file opened"},
}


def event() -> dict:
    return {**EVENT, "id": uuid.uuid4().hex}


class JsonLines:
    name = "JSON lines (hds_records.journal: flock, write, fsync)"

    def __init__(self, folder: Path):
        self.path = folder / "events.jsonl"

    def append(self, events: list[dict]) -> None:
        journal.append(self.path, [journal.encode(e) for e in events])

    def close(self) -> None:
        pass


class SQLiteWAL:
    name = "SQLite, WAL, synchronous=FULL (one transaction per append)"

    def __init__(self, folder: Path):
        self.db = sqlite3.connect(folder / "events.sqlite", timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS events (n INTEGER PRIMARY KEY, event TEXT)")

    def append(self, events: list[dict]) -> None:
        rows = [(json.dumps(e, separators=(",", ":")),) for e in events]
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT INTO events (event) VALUES (?)", rows)
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


def run(kind, folder: Path, count: int, batch: int) -> list[float]:
    """Seconds taken by each durable append of `batch` events, `count` events in all."""
    writer = kind(folder)
    took = []
    try:
        for _ in range(count // batch):
            events = [event() for _ in range(batch)]
            start = time.perf_counter()
            writer.append(events)
            took.append(time.perf_counter() - start)
    finally:
        writer.close()
    return took


def _worker(args) -> float:
    kind, folder, count = args
    start = time.perf_counter()
    run(kind, Path(folder), count, 1)
    return time.perf_counter() - start


def report(name: str, count: int, took: list[float], wall: float | None = None) -> None:
    wall = wall if wall is not None else sum(took)
    line = f"  {name:<44} {count / wall:>9,.0f} events/s"
    if took:
        p50 = statistics.median(took) * 1000
        p99 = sorted(took)[int(len(took) * 0.99) - 1] * 1000
        line += f"   append p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path("var"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(f"Durable appends of {args.events} events under {args.dir.resolve()}:")
    for kind in (JsonLines, SQLiteWAL):
        print(kind.name)
        for batch in (1, 100):
            with tempfile.TemporaryDirectory(dir=args.dir) as folder:
                took = run(kind, Path(folder), args.events, batch)
            report(f"batches of {batch}", args.events, took)
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            (Path(folder) / "warm").mkdir()
            kind(Path(folder)).close()  # the file (and SQLite's schema) exists before the race
            start = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                pool.map(_worker, [(kind, folder, args.events // 2)] * 2)
            report("two processes, one event each", args.events, [], time.perf_counter() - start)


if __name__ == "__main__":
    main()
