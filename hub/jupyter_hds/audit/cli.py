"""`hds audit ...`: verify the chain, read and export the record from a shell on the hub's host."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from ..deployment import Deployment
from .entry import FIELDS
from .query import AuditQuery, Filters, csv_cell
from .verify import Verifier, parse_anchor


def add_commands(commands) -> None:
    """Add `audit verify|show|export` to the `hds` command's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--directory", help="the record's folder (default: the state folder's)")
    audit = commands.add_parser("audit", help="verify, read and export the audit record")
    sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = sub.add_parser(
        "verify", parents=[common], help="check every hash and link; exit 1 if the chain breaks"
    )
    verify.add_argument("--anchor", type=_anchor, help="SEQ:HASH noted earlier (page or verify)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=cmd_verify)
    show = sub.add_parser("show", parents=[common], help="print matching entries, newest first")
    _filter_options(show)
    show.add_argument("--limit", type=int, default=20)
    show.set_defaults(func=cmd_show)
    export = sub.add_parser(
        "export", parents=[common], help="write matching entries as CSV to stdout, oldest first"
    )
    _filter_options(export)
    export.set_defaults(func=cmd_export)


def _filter_options(parser: argparse.ArgumentParser) -> None:
    for name, text in [
        ("person", "actor's name"),
        ("project", "project name"),
        ("action", "action or its prefix, e.g. login or server"),
        ("outcome", "succeeded, allowed, refused or failed"),
        ("since", "first day, YYYY-MM-DD (UTC)"),
        ("until", "last day, YYYY-MM-DD (UTC)"),
    ]:
        parser.add_argument(f"--{name}", help=text)


def _anchor(text: str) -> tuple[int, str]:
    try:
        return parse_anchor(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _directory(args: argparse.Namespace) -> str:
    directory = args.directory or str(Deployment(state_dir=args.state_dir).audit)
    if not (Path(directory) / "segments").is_dir():
        raise SystemExit(
            f"hds audit: no audit record in {directory}; pass --directory or set HDS_STATE_DIR"
        )
    return directory


def _filters(args: argparse.Namespace) -> Filters:
    try:
        return Filters.parse(lambda name: getattr(args, name, None))
    except ValueError as error:
        raise SystemExit(f"hds audit: {error}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    report = Verifier(_directory(args)).verify(anchor=args.anchor)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print("\n".join(report.lines(limit=50)))
    return 0 if report.intact else 1


def cmd_show(args: argparse.Namespace) -> int:
    page = AuditQuery(_directory(args)).page(_filters(args), size=args.limit)
    for row in page.rows:
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    writer = csv.writer(sys.stdout)
    try:
        writer.writerow(FIELDS)
        for batch in AuditQuery(_directory(args)).export(_filters(args)):
            writer.writerows([csv_cell(v) for v in row] for row in batch)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0
