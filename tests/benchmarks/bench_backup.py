"""Benchmark: back up and restore a hub's state of a given size; what the 48-hour promise allows.

Run with `make bench` or `python tests/benchmarks/bench_backup.py [--volume-mb 300]
[--audit 1000000] [--dataset-mb 100] [--projects 3] [--repository DIR]` as root (project
volumes are loop-mounted). The state is synthetic but real in kind: project volumes (ext4
images) full of incompressible files, one of them mounted as if its server ran (so it is
frozen while read), a dataset, a chained audit record (bench_audit's generator, kept in
build/bench/) and a usage ledger. Figures are printed, never asserted: a full backup, an
unchanged one, one after a day's changes, and a restore into a new folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(Path(__file__).parent)]

from bench_audit import record_for  # noqa: E402

from hds_quota.ledger import Ledger, server_started, server_stopped  # noqa: E402
from hds_quota.plans import Plans  # noqa: E402
from hds_quota.volumes import mounts  # noqa: E402
from jupyter_hds.audit.intake import new_event  # noqa: E402
from jupyter_hds.audit.writer import ChainWriter  # noqa: E402
from jupyter_hds.backup.create import BackupRun  # noqa: E402
from jupyter_hds.backup.restore import RestoreRun  # noqa: E402
from support.backup_state import UID, make_state  # noqa: E402

M = 1024**2
GBIT = 1e9 / 8 * 0.9  # a 1 Gbit/s link as TCP fills it, bytes per second


def write_files(folder: Path, total: int, size: int = 8 * M) -> int:
    """Incompressible files (like Parquet or images) filling `total` bytes under `folder`."""
    written, number = 0, 0
    while written < total:
        part = min(size, total - written)
        path = folder / f"users/u{number % 5}/data-{number:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for _ in range(0, part, M):
                out.write(os.urandom(min(M, part)))
        os.chown(path, UID, UID)
        written += part
        number += 1
    return written


def build(root: Path, args: argparse.Namespace):
    """The synthetic state, its repository beside it; the figures of what it holds."""
    per_project = args.volume_mb * M // args.projects
    state = make_state(root, audit_events=10, volumes={})
    d = state.deployment
    volumes = state.volumes
    for n in range(args.projects):
        project = f"project-{n}"
        volumes.ensure(project, int(per_project * 1.5) + 64 * M, in_use=False)
        write_files(volumes.mountpoint(project), per_project)
        if n:  # project-0 stays mounted: a server of it runs during the backups
            volumes.unmount(project)
    write_files(d.datasets / "cohort" / "2", args.dataset_mb * M, size=32 * M)
    record, _, _ = record_for(args.audit)
    shutil.rmtree(d.audit)
    subprocess.run(["cp", "-al", str(record), str(d.audit)], check=True)
    (d.audit / "complete").unlink()
    plan = Plans().get("public")
    Ledger(d.usage).append(
        *[server_started(plan, f"project-{n % 3}", f"user{n}", 5, 0, "img") for n in range(5000)]
    )
    Ledger(d.usage).append(*[server_stopped(f"project-{n % 3}", f"user{n}", "stopped") for n in range(5000)])  # fmt: skip
    return state


def du(path: Path) -> int:
    """Bytes `path` takes on disk (sparse volume images count what they hold)."""
    command = ["du", "-s", "--block-size=1", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def backup(state, label: str) -> dict:
    began = time.perf_counter()
    manifest = BackupRun(state.deployment, state.backup).run()
    seconds = time.perf_counter() - began
    added = sum(p["added"] or 0 for p in manifest["parts"].values())
    frozen = [v for v in manifest["volumes"] if v["state"] == "frozen"]
    print(
        f"  {label:32} {seconds:7.1f} s   read {manifest['size'] / M:8.0f} MiB   "
        f"added to the repository {added / M:8.1f} MiB"
    )
    for name, part in manifest["parts"].items():
        print(f"      {name:28} {part['seconds']:7.1f} s   {(part['bytes'] or 0) / M:8.0f} MiB")
    parts = sum(p["seconds"] for p in manifest["parts"].values())
    print(
        f"      {'staging (database, audit copy verified)':28} {manifest['staging_seconds']:7.1f} s"
    )
    print(
        f"      {'the rest (listing, retention)':28} {seconds - parts - manifest['staging_seconds']:7.1f} s"
    )
    for volume in frozen:
        print(f"      {volume['project']} frozen (writes waited) {volume['frozen_seconds']:.2f} s")
    return {"seconds": seconds, "read": manifest["size"], "added": added, "manifest": manifest}


def change_a_day(state, args: argparse.Namespace) -> None:
    """A day's work: 5% of the volume data rewritten, 10,000 audit entries, a new dataset file."""
    volumes = state.volumes
    for n in range(args.projects):
        project = f"project-{n}"
        mounted = volumes.is_mounted(project)
        if not mounted:
            volumes.ensure(project, volumes.usage(project).size, in_use=False)
        write_files(
            volumes.mountpoint(project) / "today", args.volume_mb * M // args.projects // 20
        )
        if not mounted:
            volumes.unmount(project)
    writer = ChainWriter(state.deployment.audit, fsync=False).open()
    writer.append([new_event("dataset.read", "ann", "user", "allowed", details={"n": n}) for n in range(10_000)])  # fmt: skip
    writer.seal_pending()
    writer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volume-mb", type=int, default=300, help="files in project volumes")
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--dataset-mb", type=int, default=100)
    parser.add_argument("--audit", type=int, default=1_000_000, help="audit record entries")
    parser.add_argument("--keep", action="store_true", help="keep the state and repository")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("run as root: project volumes are loop-mounted, as the hub does")
    root = Path(tempfile.mkdtemp(prefix="bench-backup-", dir=ROOT / "build"))
    try:
        return run(root, args)
    finally:
        for point in sorted(mounts(), reverse=True):
            if point.startswith(f"{root}/"):
                subprocess.run(["umount", point], check=False)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> int:
    began = time.perf_counter()
    state = build(root, args)
    d = state.deployment
    sizes = {
        "project volumes (files)": args.volume_mb * M,
        "datasets": du(d.datasets),
        f"audit record ({args.audit:,} entries)": du(d.audit),
        "usage ledger": du(d.usage),
        "database": du(d.state / "jupyterhub.sqlite"),
    }
    print(f"state built in {time.perf_counter() - began:.0f} s under {root}:")
    for name, size in sizes.items():
        print(f"  {name:32} {size / M:8.1f} MiB")
    print(
        f"backups to a local restic repository ({state.backup.repository}), {os.cpu_count()} CPU(s):"
    )
    first = backup(state, "first (everything new)")
    time.sleep(1)
    backup(state, "second (nothing changed)")
    change_a_day(state, args)
    time.sleep(1)
    daily = backup(state, "after a day's changes")
    repository = du(Path(state.backup.repository))
    print(f"  repository after three backups {repository / M:8.0f} MiB")

    state.volumes.unmount("project-0")
    target = root / "restored"
    began = time.perf_counter()
    report = RestoreRun(target, state.backup).run("latest")
    restore_seconds = time.perf_counter() - began
    restored = du(target)
    print(
        f"restore into an empty folder        {restore_seconds:7.1f} s   {restored / M:8.0f} MiB on "
        f"disk ({len(report['volumes'])} volumes, audit {report['audit']['entries']:,} entries "
        f"verified, head seq {report['audit']['head_seq']:,})"
    )
    rate = daily["read"] / restore_seconds
    promise = 48 * 3600
    print("the 48-hour restore promise:")
    print(f"  measured restore rate (local repository)   {rate / M:8.1f} MiB/s of state")
    print(f"  state restorable in 48 h at that rate      {rate * promise / 1024**4:8.2f} TiB")
    print(f"  over a 1 Gbit/s link (~{GBIT / M:.0f} MiB/s)         {min(rate, GBIT) * promise / 1024**4:8.2f} TiB")  # fmt: skip
    print(f"  over a 100 Mbit/s link                     {min(rate, GBIT / 10) * promise / 1024**4:8.2f} TiB")  # fmt: skip
    per_tib = 1024**4 / rate / 3600
    print(f"  hours to restore 1 TiB at the measured rate {per_tib:7.1f} h (plus starting the hub)")
    print(json.dumps({
        "first_backup_s": round(first["seconds"], 1), "daily_backup_s": round(daily["seconds"], 1),
        "restore_s": round(restore_seconds, 1), "state_bytes": daily["read"],
        "repository_bytes": repository, "restore_rate_bytes_s": round(rate),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
