"""`hds usage ...`: the monthly summary, sessions and volumes, read on the hub host."""

from __future__ import annotations

import argparse
from pathlib import Path

from hds_quota.ledger import Ledger, utcnow
from hds_quota.usage import Month, ProjectMonth, Session, Usage, gib, to_csv
from hds_quota.volumes import ProjectVolumes

from ..deployment import Deployment

SUMMARY_COLUMNS = (
    ("project", "{0.project}"),
    ("plan", "{0.plan}"),
    ("members", "{0.members}"),
    ("users", "{0.active_users}"),
    ("sessions", "{0.sessions}"),
    ("server-h", "{0.server_hours:.2f}"),
    ("CPU-h used/incl.", "{0.cpu_hours:.2f}/{0.cpu_hours_included:g}"),
    ("peak storage/limit", None),
    ("due EUR", "{0.amount_due_eur:.2f}"),
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `usage` and its actions to the `hds` command's subcommands."""
    usage = commands.add_parser(
        "usage", help="usage and invoices from the ledger (run on the hub host, as root)"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--usage-dir", help="the ledger's folder (default: the state folder's)")
    monthly = argparse.ArgumentParser(add_help=False, parents=[common])
    monthly.add_argument("--month", help="YYYY-MM, UTC (default: this month)")
    monthly.add_argument("--csv", action="store_true", help="CSV instead of a table")
    actions = usage.add_subparsers(dest="action", required=True)
    summary = actions.add_parser(
        "summary", parents=[monthly], help="one line per project for a month: the invoice"
    )
    summary.set_defaults(func=cmd_summary)
    sessions = actions.add_parser(
        "sessions", parents=[monthly], help="every server run counted in a month"
    )
    sessions.add_argument("--project")
    sessions.set_defaults(func=cmd_sessions)
    volumes = actions.add_parser("volumes", parents=[common], help="each project's volume")
    volumes.set_defaults(func=cmd_volumes)


def _usage(args: argparse.Namespace) -> Usage:
    folder = args.usage_dir or Deployment(state_dir=args.state_dir).usage
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no usage ledger at {folder}; pass --usage-dir or --state-dir")
    return Usage(Ledger(folder))


def _month(args: argparse.Namespace) -> Month:
    return Month.parse(args.month) if args.month else Month.of(utcnow())


def cmd_summary(args: argparse.Namespace) -> int:
    month = _month(args)
    rows = _usage(args).summary(month)
    if args.csv:
        print(to_csv(rows, ProjectMonth), end="")
        return 0
    print(f"Usage in {month} (UTC); CPU-hours = wall time x the plan's CPU limit")
    print(render_table(rows))
    print(f"total due: {sum(row.amount_due_eur for row in rows):.2f} EUR")
    return 0


def render_table(rows: list[ProjectMonth]) -> str:
    lines = [[title for title, _ in SUMMARY_COLUMNS]]
    for row in rows:
        storage = f"{gib(row.peak_storage_bytes)}/{gib(row.storage_bytes)}"
        lines.append([fmt.format(row) if fmt else storage for _, fmt in SUMMARY_COLUMNS])
    widths = [max(len(line[i]) for line in lines) for i in range(len(SUMMARY_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def cmd_sessions(args: argparse.Namespace) -> int:
    rows = _usage(args).sessions(_month(args), args.project)
    if args.csv:
        print(to_csv(rows, Session), end="")
        return 0
    for row in rows:
        end = row.stopped.isoformat(timespec="seconds") if row.stopped else "running"
        print(
            f"{row.project}\t{row.user}\t{row.plan}\t{row.cpu:g} CPU\t"
            f"{row.started.isoformat(timespec='seconds')} -> {end}\t"
            f"{row.hours:.2f} h\t{row.cpu_hours:.2f} CPU-h"
        )
    return 0


def cmd_volumes(args: argparse.Namespace) -> int:
    deployment = Deployment(state_dir=args.state_dir)
    volumes = ProjectVolumes(deployment.volumes, deployment.projects)
    print(f"volumes in {volumes.images_root}")
    for project in volumes.projects():
        usage = volumes.usage(project)
        if usage is not None:
            state = "mounted" if usage.mounted else "unmounted"
            print(f"{project}\t{gib(usage.used)} used of {gib(usage.capacity)}\t"
                  f"(image {gib(usage.size)})\t{state}")  # fmt: skip
    return 0
