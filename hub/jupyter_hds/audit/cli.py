"""`hds audit ...`: verify the chain, read and export the record from a shell on the hub's host."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from traitlets.config import Config

from .. import settings
from ..deployment import Deployment
from .entry import FIELDS
from .inbox import Inbox
from .intake import new_event
from .operator import operator
from .query import AuditQuery, Filters, csv_cell
from .report import CSV_HEADER, RULES, AccessReport, Report, build, csv_rows, duration
from .report import parse_request as parse_report_request
from .verify import Verifier, parse_anchor


def add_commands(commands) -> None:
    """Add `audit verify|show|export|report` to the `hds` command's subcommands."""
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
    report = sub.add_parser(
        "report",
        parents=[common],
        help="a project's monthly access report: reads, refusals, releases, sessions, anomalies "
        "(its generation is recorded)",
    )
    report.add_argument("--project", required=True, help="project name")
    report.add_argument("--month", required=True, help="YYYY-MM, in the report's time zone")
    report.add_argument("--csv", action="store_true", help="every row as CSV, to stdout")
    report.set_defaults(func=cmd_report)


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


def cmd_report(args: argparse.Namespace) -> int:
    """The access report; its generation goes in the record's inbox first, or nothing is shown."""
    try:
        project, month = parse_report_request(args.project, args.month)
    except ValueError as error:
        raise SystemExit(f"hds audit report: {error}") from None
    directory = _directory(args)
    rules = AccessReport(config=_settings(args))
    who, _ = operator()
    event = new_event("audit.access-report", who, "admin", "allowed", project=project,
                      target=str(month), details={"month": str(month), "format": "command",
                                                  "time_zone": rules.time_zone})  # fmt: skip
    try:
        Inbox(directory).put([event], source="audit-report")
    except OSError as error:
        raise SystemExit(
            f"hds audit report: cannot record the report's generation in {directory}/inbox "
            f"({error.strerror}); run it as the hub's user"
        ) from None
    report = build(AuditQuery(directory), project, month, rules)
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_HEADER)
        writer.writerows([csv_cell(v) for v in row] for row in csv_rows(report))
    else:
        print("\n".join(report_lines(report)))
    return 0


def _settings(args: argparse.Namespace) -> Config:
    """The settings the hub published (the report's time zone and rules), else defaults."""
    try:
        return settings.load(Deployment(state_dir=args.state_dir).settings_file)
    except settings.SettingsMissing:
        return Config()


def report_lines(report: Report) -> list[str]:
    """The report as text: its totals, anomalies and people (the CSV has every row)."""

    def when(moment) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"

    lines = [
        f"access report: {report.project}, {report.month.label} ({report.time_zone} time), "
        f"generated {when(report.generated)}",
        f"{len(report.people)} person(s), {sum(r.reads for r in report.reads):,} dataset "
        f"read(s), {len(report.refusals)} refusal(s), {len(report.releases)} release step(s), "
        f"{len(report.sessions)} session(s)",
        "",
        f"anomalies: {len(report.anomalies) or 'none'}",
    ]
    for a in report.anomalies:
        lines.append(f"  ! {a.label:<24} {a.person:<16} {when(a.first)} .. {when(a.last)}  "
                     f"{a.text}")  # fmt: skip
    lines += ["", f"{'person':<16} {'reads':>7} {'files':>5} {'first read':<16} "
              f"{'last read':<16} {'refused':>7} {'sessions':>8} {'in sessions':>12} "
              f"{'opens':>5}  anomalies"]  # fmt: skip
    for p in report.people:
        flags = ", ".join(RULES[rule] for rule in p.anomalies)
        lines.append(
            f"{p.name:<16} {p.reads:>7,} {p.files:>5} {when(p.first_read):<16} "
            f"{when(p.last_read):<16} {p.refusals:>7} {p.sessions:>8} "
            f"{duration(p.session_seconds):>12} {p.opens:>5}  {flags}"
        )
    lines += ["", "every file, refusal, release and session: --csv"]
    return lines
