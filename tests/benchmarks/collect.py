"""Run the benchmarks and write what they print to docs/benchmarks.md, with machine, date, commit.

Each benchmark runs as its own process; its output is shown as it comes and kept in
build/bench/output/<name>.txt with when, on which commit and how long it ran. The page is
written from every kept output, so `--only spawn audit` reruns two and keeps the others' last
figures (each section says its own date and commit). A benchmark that fails is on the page as
failed, with the end of its output; the others still run. Figures are printed, never asserted.
Run: `make bench`, or this file with the venv's python (`--list` shows the names).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUTPUT = ROOT / "build" / "bench" / "output"
PAGE = ROOT / "docs" / "benchmarks.md"

# name -> (script, arguments, what it measures). The order of the page and of a full run.
BENCHMARKS: dict[str, tuple[str, list[str], str]] = {
    "spawn": ("bench_spawn.py", [], "one server: ours vs plain DockerSpawner vs bare docker run"),
    "server_imports": ("bench_server_imports.py", [], "a user server's start-up CPU by piece"),
    "audit": ("bench_audit.py", [], "audit record: filters, pages, export, verify"),
    "report": ("bench_report.py", [], "the access report over a month of entries"),
    "usage": ("bench_usage.py", [], "usage metering"),
    "usage_volumes": ("bench_usage_volumes.py", [], "storage usage of volumes"),
    "import": ("bench_import.py", ["--rows", "10000000"], "dataset import and pseudonymisation"),
    "backup": ("bench_backup.py", [], "backup and restore"),
    "capacity": ("bench_capacity.py", ["--servers", "20"], "many servers at once"),
    "concurrency": (
        "bench_concurrency.py",
        ["--servers", "20"],
        "20 servers at once, ours vs plain DockerSpawner, against the floor",
    ),
    "footprint": (
        "bench_footprint.py",
        [],
        "idle server memory vs plain JupyterLab, the hub with 200 users, the image's size",
    ),
    "stops": ("bench_stops.py", [], "how soon a server stops once it must"),
    "intake_flood": (
        "bench_intake_flood.py",
        [],
        "the hub's API while a server floods the audit intake",
    ),
    "records": ("bench_records.py", [], "the append-only writer against SQLite in WAL mode"),
    "restart": ("bench_restart.py", [], "hub stop and start, with a member's server running"),
    "browser_budget": ("bench_browser_budget.py", [], "the data guard's daily browser budget"),
}


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def commit() -> str:
    """The commit benchmarked, `+ changes` when the work tree differs from it."""
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return (
        f"{head} + uncommitted changes"
        if git("status", "--porcelain", "--untracked-files=no")
        else head
    )


def machine() -> dict[str, str]:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    ram_kib = int(meminfo["MemTotal"].split()[0])
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "ram": f"{ram_kib / 2**20:.1f} GiB",
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", platform.system()),
        "python": platform.python_version(),
        "docker": docker or "not reachable",
    }


def run(name: str, extra: list[str]) -> dict:
    """Run one benchmark, echoing and keeping its output; returns what the page says of it."""
    script, arguments, _ = BENCHMARKS[name]
    command = [sys.executable, str(HERE / script), *arguments, *extra]
    shown = shlex.join(["python", f"tests/benchmarks/{script}", *arguments, *extra])
    print(f"\n### {name}: {shown}", flush=True)
    began, load = time.time(), os.getloadavg()
    lines = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as process:  # fmt: skip
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line.rstrip("\n"))
    record = {
        "name": name,
        "command": shown,
        "returncode": process.returncode,
        "date": datetime.fromtimestamp(began, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.time() - began),
        "commit": commit(),
        "load_before": " ".join(f"{v:.2f}" for v in load),
        "load_after": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "image": os.environ.get("HDS_SINGLEUSER_IMAGE", "jupyter-hds/singleuser:latest"),
    }
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (OUTPUT / f"{name}.json").write_text(json.dumps(record, indent=1))
    return record


def section(name: str) -> list[str]:
    script, _, what = BENCHMARKS[name]
    meta_path, text_path = OUTPUT / f"{name}.json", OUTPUT / f"{name}.txt"
    lines = [f"## {name}: {what}", ""]
    if not meta_path.exists():
        return [*lines, f"Not run yet: `python tests/benchmarks/{script}`.", ""]
    meta = json.loads(meta_path.read_text())
    output = text_path.read_text().rstrip("\n").splitlines()
    status = "ran" if meta["returncode"] == 0 else f"**FAILED** (exit {meta['returncode']})"
    lines += [
        f"`{meta['command']}`: {status}, {meta['date']}, {meta['seconds']} s, commit "
        f"{meta['commit']}, image `{meta['image']}`, load average {meta['load_before']} before, "
        f"{meta['load_after']} after.",
        "",
        "```text",
        *(output if meta["returncode"] == 0 else output[-60:]),
        "```",
        "",
    ]
    return lines


def write_page(about: dict[str, str]) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`tests/benchmarks/collect.py`): what each benchmark printed, as",
        "it printed it. The docs quote no figures of their own; they point here. Nothing here is",
        "asserted by the tests. Rerun some with `python tests/benchmarks/collect.py --only NAME`.",
        "",
        "The machine is shared: other developers' builds and tests ran during these runs, so the",
        "figures are noisy (the load average before and after each is given). Side-by-side",
        "figures (spawn: ours, plain, bare) take turns within one run, so the load falls on all.",
        "",
        f"Page written {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, on:",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in about.items()),
        "",
    ]
    for name in BENCHMARKS:
        lines += section(name)
    PAGE.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"\nwrote {PAGE.relative_to(ROOT)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
                        help="run these only; the page keeps the others' last output")  # fmt: skip
    parser.add_argument("--audit-args", default="", help="more arguments for bench_audit.py")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    parser.add_argument("--page-only", action="store_true",
                        help="run nothing: write the page from the kept outputs")  # fmt: skip
    args = parser.parse_args(argv)
    if args.list:
        for name, (script, arguments, what) in BENCHMARKS.items():
            print(f"{name:14s} {shlex.join([script, *arguments]):40s} {what}")
        return 0
    failed = []
    if not args.page_only:
        for name in args.only or list(BENCHMARKS):
            extra = shlex.split(args.audit_args) if name == "audit" else []
            if run(name, extra)["returncode"]:
                failed.append(name)
    write_page(machine())
    if failed:
        print(f"failed: {', '.join(failed)} (on the page with their output)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
