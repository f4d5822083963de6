"""The `hds` command: what a hosting team scripts beside the admin panel."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hds_quota.commands import add_commands as add_usage_commands

from . import demo_dataset
from .audit import cli as audit_cli
from .hub_api import HubAPIError
from .project_admin import ProjectAdmin
from .projects import PROPERTIES

PROPERTY_OPTIONS = tuple(PROPERTIES)


def cmd_demo_dataset(args: argparse.Namespace) -> int:
    created = demo_dataset.ensure(Path(args.folder))
    print(f"demo dataset {'generated' if created else 'already there'}: {args.folder}")
    return 0


def cmd_project_create(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    properties = {k: getattr(args, k) for k in PROPERTY_OPTIONS if getattr(args, k)}
    admin.create(args.name, properties, args.member)
    print(f"project {args.name} created with {len(args.member)} member(s)")
    return 0


def cmd_project_show(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    group = admin.project(args.name)
    properties = group.get("properties") or {}
    report = {
        "name": args.name,
        "properties": properties,
        "members": sorted(group.get("users", [])),
        "running": sorted(admin.running(args.name)),
        "problem": admin.problems(args.name, properties) or None,
    }
    print(json.dumps(report, indent=2))
    return 0


def cmd_project_list(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    for name, group in sorted(admin.projects().items()):
        properties = group.get("properties") or {}
        state = "ok" if not admin.problems(name, properties) else "INVALID"
        print(
            f"{name}\t{properties.get('plan', '-')}\t{len(group.get('users', []))} members\t{state}"
        )
    return 0


def cmd_project_check(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    projects = admin.projects()
    names = args.name or sorted(projects)
    failed = 0
    for name in names:
        group = projects.get(name) or admin.project(name)  # which says when there is none
        problem = admin.problems(name, group.get("properties") or {})
        print(f"{name}: {problem or 'ok'}")
        failed += bool(problem)
    return 1 if failed else 0


def cmd_project_set(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    changes = {}
    for assignment in args.assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise ValueError(
                f"write changes as key=value (an empty value removes), not {assignment!r}"
            )
        changes[key] = value
    print(json.dumps(admin.set_properties(args.name, changes), indent=2))
    return 0


def cmd_project_close(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    if not args.yes:
        raise ValueError(
            f"closing stops every server of {args.name} and removes its members; add --yes"
        )
    stopped = admin.close(args.name)
    print(f"project {args.name} closed; stopped {len(stopped)} server(s); its files stay in "
          f"{Path(admin.settings.storage_root) / args.name}")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo-dataset", help="generate the synthetic demo cohort")
    demo.add_argument("folder", help="folder to write the Parquet tables to")
    demo.set_defaults(func=cmd_demo_dataset)

    project = commands.add_parser(
        "project",
        help="onboard and manage projects (needs JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN)",
    )
    project.add_argument("--hub-config", help="the hub's config file (default: the shipped one)")
    actions = project.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a project, checked first")
    create.add_argument("name")
    create.add_argument("--plan", required=True)
    create.add_argument("--dataset", required=True)
    create.add_argument("--image")
    create.add_argument("--expires", help="last day of access, YYYY-MM-DD")
    create.add_argument("--description")
    create.add_argument("--member", action="append", default=[], help="repeat for each member")
    create.set_defaults(func=cmd_project_create)
    for name, func, text in (
        ("show", cmd_project_show, "a project's settings, members, servers and problems (JSON)"),
        ("close", cmd_project_close, "stop a project's servers and remove it; files are kept"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("name")
        sub.set_defaults(func=func)
    actions.choices["close"].add_argument("--yes", action="store_true")
    listing = actions.add_parser("list", help="every project, its plan, members and state")
    listing.set_defaults(func=cmd_project_list)
    check = actions.add_parser("check", help="check projects' settings; exit 1 if any is invalid")
    check.add_argument("name", nargs="*")
    check.set_defaults(func=cmd_project_check)
    change = actions.add_parser("set", help="change properties: key=value (empty value removes)")
    change.add_argument("name")
    change.add_argument("assignments", nargs="+")
    change.set_defaults(func=cmd_project_set)
    audit_cli.add_commands(commands)
    add_usage_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "project":
            return args.func(args, ProjectAdmin.from_environment(args.hub_config))
        return args.func(args)
    except (ValueError, FileNotFoundError, HubAPIError) as error:
        print(f"hds: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
