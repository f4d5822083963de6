"""The `hds` command: what a hosting team scripts beside the admin panel."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import demo_dataset


def cmd_demo_dataset(args: argparse.Namespace) -> int:
    created = demo_dataset.ensure(Path(args.folder))
    state = "generated" if created else "already there"
    print(f"demo dataset {state}: {args.folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo-dataset", help="generate the synthetic demo cohort")
    demo.add_argument("folder", help="folder to write the Parquet tables to")
    demo.set_defaults(func=cmd_demo_dataset)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
