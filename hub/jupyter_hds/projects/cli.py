"""`hds project ...`: onboard and manage projects from a shell, through the hub's API."""

from __future__ import annotations

import argparse
import json

from ..deployment import Deployment
from ..policy.projects import PROPERTIES
from .admin import ProjectAdmin


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `project` and its actions to the `hds` command's subcommands."""
    project = commands.add_parser(
        "project",
        help="onboard and manage projects (needs JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN)",
    )
    actions = project.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a project, checked first")
    create.add_argument("name")
    create.add_argument("--plan", required=True)
    create.add_argument(
        "--dataset",
        help="the dataset imported for it, NAME or NAME@VERSION (later: import it with "
        "`hds dataset import`, then `hds project set NAME dataset=...`)",
    )
    create.add_argument("--image")
    create.add_argument("--expires", help="last day of access, YYYY-MM-DD")
    create.add_argument("--description")
    create.add_argument("--member", action="append", default=[], help="repeat for each member")
    create.set_defaults(func=cmd_create)
    for name, func, text in (
        ("show", cmd_show, "a project's settings, members, servers and problems (JSON)"),
        ("close", cmd_close, "stop a project's servers and remove it; files are kept"),
    ):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("name")
        sub.set_defaults(func=func)
    actions.choices["close"].add_argument("--yes", action="store_true")
    listing = actions.add_parser("list", help="every project, its plan, members and state")
    listing.set_defaults(func=cmd_list)
    check = actions.add_parser("check", help="check projects' settings; exit 1 if any is invalid")
    check.add_argument("name", nargs="*")
    check.set_defaults(func=cmd_check)
    change = actions.add_parser("set", help="change properties: key=value (empty value removes)")
    change.add_argument("name")
    change.add_argument("assignments", nargs="+")
    change.set_defaults(func=cmd_set)


def cmd_create(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    properties = {k: getattr(args, k) for k in PROPERTIES if getattr(args, k)}
    admin.create(args.name, properties, args.member)
    print(f"project {args.name} created with {len(args.member)} member(s)")
    if not args.dataset:
        print(f"next: hds dataset import {args.name} --project {args.name} --spec SPEC FILE..., "
              f"then hds project set {args.name} dataset={args.name}")  # fmt: skip
    return 0


def cmd_show(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    group = admin.project(args.name)
    report = {
        "name": args.name,
        "properties": group.get("properties") or {},
        "dataset_version": admin.dataset_version(group),
        "members": sorted(group.get("users", [])),
        "running": sorted(admin.running(args.name)),
        "problem": admin.problems(args.name, group) or None,
    }
    print(json.dumps(report, indent=2))
    return 0


def cmd_list(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    for name, group in sorted(admin.projects().items()):
        properties = group.get("properties") or {}
        state = "ok" if not admin.problems(name, group) else "INVALID"
        print(
            f"{name}\t{properties.get('plan', '-')}\t{len(group.get('users', []))} members\t{state}"
        )
    return 0


def cmd_check(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    projects = admin.projects()
    names = args.name or sorted(projects)
    failed = 0
    for name in names:
        group = projects.get(name) or admin.project(name)  # which says when there is none
        problem = admin.problems(name, group)
        print(f"{name}: {problem or 'ok'}")
        failed += bool(problem)
    return 1 if failed else 0


def cmd_set(args: argparse.Namespace, admin: ProjectAdmin) -> int:
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


def cmd_close(args: argparse.Namespace, admin: ProjectAdmin) -> int:
    if not args.yes:
        raise ValueError(
            f"closing stops every server of {args.name} and removes its members; add --yes"
        )
    stopped = admin.close(args.name)
    files = Deployment(state_dir=args.state_dir).projects / args.name
    print(f"project {args.name} closed; stopped {len(stopped)} server(s); its files stay in "
          f"{files}")  # fmt: skip
    return 0
