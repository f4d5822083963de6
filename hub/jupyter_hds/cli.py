"""The `hds` command: what a hosting team scripts beside the admin panel."""

from __future__ import annotations

import argparse
import sys

from . import database as database_cli
from . import settings
from .airlock import cli as airlock_cli
from .audit import cli as audit_cli
from .backup import cli as backup_cli
from .datasets import cli as dataset_cli
from .deployment import Deployment
from .hub_api import HubAPIError
from .operations import cli as operations_cli
from .projects import cli as project_cli
from .projects.admin import ProjectAdmin
from .usage import cli as usage_cli


def cmd_settings_show(args: argparse.Namespace) -> int:
    """The settings the hub published at its last start."""
    path = Deployment(state_dir=args.state_dir).settings_file
    settings.load(path)  # says how to get one when there is none
    print(path.read_text())
    return 0


def cmd_settings_help(args: argparse.Namespace) -> int:
    """Every HDS setting an operator can write in $HDS_CONFIG_DIR, with its help."""
    for cls in settings.SHARED:
        print(cls.class_get_help())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hds", description=__doc__)
    parser.add_argument(
        "--state-dir",
        default=Deployment().state_dir,
        help="the hub's state folder (default: $HDS_STATE_DIR, else /var/lib/jupyter-hds)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    shown = commands.add_parser("settings", help="the HDS settings: what the hub runs with, help")
    what = shown.add_subparsers(dest="action", required=True)
    what.add_parser("show", help="the settings the hub published at its last start (JSON)")
    what.choices["show"].set_defaults(func=cmd_settings_show)
    what.add_parser("help", help="every HDS setting with its help, as c.<Class>.<name>")
    what.choices["help"].set_defaults(func=cmd_settings_help)
    project_cli.add_commands(commands)
    dataset_cli.add_commands(commands)
    audit_cli.add_commands(commands)
    usage_cli.add_commands(commands)
    airlock_cli.add_commands(commands)
    backup_cli.add_commands(commands)
    operations_cli.add_commands(commands)
    database_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "project":
            config = settings.load(Deployment(state_dir=args.state_dir).settings_file)
            return args.func(args, ProjectAdmin.from_settings(config))
        return args.func(args)
    except (ValueError, FileNotFoundError, HubAPIError) as error:
        print(f"hds: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
