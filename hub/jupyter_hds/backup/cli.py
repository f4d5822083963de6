"""`hds backup create|list|restore|check`: backups of the hub's state, run as root on its host."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from traitlets.config import Config

from hds_quota.settings import Quotas

from .. import settings
from ..deployment import Deployment
from . import events
from .catalogue import STATE_PART, BackupSet, age, catalogue, complete, human_size, incomplete
from .config import Backup
from .create import LIVE_TAG, MANIFEST, BackupRun
from .restic import BackupError, Restic
from .restore import RestoreRun


def add_commands(commands) -> None:
    """Add `backup create|list|restore|check` to the `hds` command's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repository", help="restic repository (default: c.Backup.repository)")
    common.add_argument("--password-file", help="its password (default: c.Backup.password_file)")
    backup = commands.add_parser(
        "backup", help="back up the hub's state to restic, list, restore, check (as root)"
    )
    sub = backup.add_subparsers(dest="backup_command", required=True)
    create = sub.add_parser(
        "create", parents=[common], help="write a complete backup (database, audit, volumes...)"
    )
    create.add_argument("--quiet", action="store_true", help="print only the summary line")
    create.set_defaults(func=cmd_create)
    listing = sub.add_parser(
        "list", parents=[common], help="complete backups with their age and size, newest last"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    restore = sub.add_parser(
        "restore",
        parents=[common],
        help="rebuild the state folder (--state-dir) from a backup; the hub must be stopped",
    )
    restore.add_argument("snapshot", help="`latest`, a backup id or a snapshot id from `list`")
    restore.add_argument(
        "--force", action="store_true", help="move a non-empty state (and config) aside first"
    )
    restore.add_argument(
        "--config-root",
        type=Path,
        help="also write the saved configuration under this folder (`/`: back in place)",
    )
    restore.add_argument("--database-url", help="PostgreSQL only: the (empty) database to fill")
    restore.set_defaults(func=cmd_restore)
    check = sub.add_parser(
        "check", parents=[common], help="check the repository and the newest backup's parts"
    )
    check.add_argument(
        "--read-data-subset", help="also read back this share of the data, e.g. 5%% or 1/7"
    )
    check.set_defaults(func=cmd_check)


def reported(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A failed step is printed as one line that says what to do, and exits with 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (BackupError, LookupError) as error:
            print(f"hds backup: {error}", file=sys.stderr)
            return 2

    return run


def load(args: argparse.Namespace) -> tuple[Deployment, Backup, Config]:
    """The settings the hub published for this state folder (defaults before its first
    start, or on a fresh host before a restore), the command line over them."""
    deployment = Deployment(state_dir=args.state_dir)
    try:
        config = settings.load(deployment.settings_file)
    except settings.SettingsMissing:
        config = Config()
    config.Deployment.state_dir = args.state_dir
    if args.repository:
        config.Backup.repository = args.repository
    if args.password_file:
        config.Backup.password_file = args.password_file
    return Deployment(config=config), Backup(config=config), config


@reported
def cmd_create(args: argparse.Namespace) -> int:
    deployment, backup, config = load(args)
    log = (lambda line: None) if args.quiet else print
    run = BackupRun(deployment, backup, preallocate=Quotas(config=config).preallocate, log=log)
    try:
        manifest = run.run()
    except BaseException as error:
        if deployment.state.is_dir():  # never make a state folder to record a typo in
            reason = f"{type(error).__name__}: {error}"[:500]
            details = {"backup": run.id or None, "reason": reason}
            events.record(deployment.audit, "backup.created", "failed", details)
        raise
    live = [v["project"] for v in manifest["volumes"] if v["state"] == "live"]
    events.record(
        deployment.audit,
        "backup.created",
        "succeeded",
        {
            "backup": manifest["backup"],
            "snapshot": manifest["parts"]["state"]["snapshot"],
            "size": manifest["size"],
            "repository": backup.repository,
            "audit_head_seq": manifest["audit"]["head_seq"],
            "volumes": len(manifest["volumes"]),
            "live_volumes": live,
        },
    )
    print(
        f"backup {manifest['backup']} ({manifest['parts']['state']['snapshot']}): "
        f"{human_size(manifest['size'])}, {len(manifest['volumes'])} volume(s)"
        + (f", LIVE (copied in use): {', '.join(live)}" if live else "")
        + (f"; forgot {', '.join(manifest['forgotten'])}" if manifest.get("forgotten") else "")
    )
    if manifest.get("retention_error"):
        print(
            f"hds backup: old backups not forgotten: {manifest['retention_error']}", file=sys.stderr
        )
    return 0


def _rows(backups: list[BackupSet], now: datetime) -> list[dict]:
    return [
        {
            "backup": b.id,
            "snapshot": b.state.short_id,
            "time": b.time.isoformat(timespec="seconds"),
            "age": age(b.time, now),
            "size": b.size,
            "volumes": b.volumes,
            "live": [p for p in b.state.tags.get(LIVE_TAG, "").split("+") if p],
        }
        for b in backups
    ]


@reported
def cmd_list(args: argparse.Namespace) -> int:
    _, backup, _ = load(args)
    backups = catalogue(Restic(backup).snapshots())
    rows = _rows(complete(backups), datetime.now(UTC))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'backup':18} {'snapshot':9} {'age':>11} {'size':>10}  volumes")
    for row in rows:
        live = f" (live: {', '.join(row['live'])})" if row["live"] else ""
        print(
            f"{row['backup']:18} {row['snapshot']:9} {row['age']:>11} "
            f"{human_size(row['size']):>10}  {len(row['volumes'])}{live}"
        )
    unfinished = incomplete(backups)
    if unfinished:
        print(f"({len(unfinished)} unfinished backup(s), forgotten at the next create)")
    return 0


@reported
def cmd_restore(args: argparse.Namespace) -> int:
    _, backup, config = load(args)
    run = RestoreRun(
        Path(args.state_dir),
        backup,
        force=args.force,
        config_root=args.config_root,
        database_url=args.database_url,
        preallocate=Quotas(config=config).preallocate,
        log=print,
    )
    report = run.run(args.snapshot)
    audit = report["audit"]
    print(
        f"restored backup {report['backup']} ({report['snapshot']}) into {args.state_dir} in "
        f"{report['seconds']:.1f} s: {len(report['volumes'])} volume(s), audit record of "
        f"{audit['entries']} entries, head seq {audit['head_seq']} "
        f"({'intact' if audit['intact'] else 'BROKEN, as it was when saved'})"
    )
    if report.get("live_volumes"):
        print(f"  volumes copied while in use: {', '.join(report['live_volumes'])}")
    if report.get("moved_aside"):
        print(f"  the previous state is kept at {report['moved_aside']}: delete it when done")
    if args.config_root is None:
        print("  configuration not written: add --config-root / to put it back in place")
    print("  start the hub (systemctl start jupyter-hds-hub), then check: hds doctor")
    return 0


@reported
def cmd_check(args: argparse.Namespace) -> int:
    _, backup, _ = load(args)
    restic = Restic(backup)
    restic.check(args.read_data_subset)
    print("repository: no errors found by restic check")
    backups = catalogue(restic.snapshots())
    done = complete(backups)
    if not done:
        print("no complete backup yet: run `hds backup create`", file=sys.stderr)
        return 1
    newest = done[-1]
    manifest = json.loads(restic.run("dump", newest.state.id, f"/{MANIFEST}").stdout)
    expected = set(manifest["parts"]) | {STATE_PART}
    missing = sorted(expected - set(newest.parts))
    print(
        f"newest backup {newest.id}, {age(newest.time, datetime.now(UTC))} old: "
        f"{len(newest.parts)} of {len(expected)} part(s) present"
    )
    if missing:
        print(f"MISSING parts: {', '.join(missing)}: run `hds backup create`", file=sys.stderr)
    for backup_set in incomplete(backups):
        print(f"unfinished backup {backup_set.id} (forgotten at the next create)")
    return 1 if missing else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m jupyter_hds.backup.cli [--state-dir DIR] backup ...`, as `hds` runs it."""
    parser = argparse.ArgumentParser(prog="hds")
    parser.add_argument("--state-dir", default=Deployment().state_dir)
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
