"""`hds dataset import|list|show`: pseudonymising imports from a shell on the hub's host."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..audit.inbox import Inbox
from ..audit.operator import operator
from ..deployment import Deployment
from ..hub_api import HubAPI
from ..policy.projects import is_project
from .importer import Importer, ImportRequest, audited_import
from .store import DatasetStore


def add_commands(commands) -> None:
    """Add `dataset import|list|show` to the `hds` command's subcommands."""
    dataset = commands.add_parser("dataset", help="import pseudonymised datasets; list, show")
    sub = dataset.add_subparsers(dest="dataset_command", required=True)
    run = sub.add_parser(
        "import",
        help="pseudonymise raw files into a new version of a dataset (needs "
        "JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN to check the project)",
    )
    run.add_argument("name", help="the dataset: lowercase letters, digits, - and _")
    run.add_argument("files", nargs="+", metavar="FILE", help=".csv or .parquet, one per table")
    run.add_argument("--project", required=True, help="the project whose key pseudonymises")
    run.add_argument("--spec", required=True, help="the spec (TOML): one rule per column")
    run.add_argument("--force", action="store_true", help="import below k (recorded)")
    run.add_argument(
        "--rotate-key", action="store_true", help="give the project a new key: new pseudonyms"
    )
    run.add_argument("--memory-limit", default="1GB", help="DuckDB's memory limit (1GB)")
    run.set_defaults(func=cmd_import)
    listing = sub.add_parser("list", help="every dataset version: project, rows, when, forced")
    listing.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="a version's manifest (JSON): NAME or NAME@VERSION")
    show.add_argument("reference", metavar="NAME[@VERSION]")
    show.set_defaults(func=cmd_show)


def project_exists(name: str) -> bool:
    """Whether the hub has a project (a group with project properties) called `name`."""
    group = HubAPI().groups().get(name)
    return group is not None and is_project(group.get("properties") or {})


def cmd_import(args: argparse.Namespace) -> int:
    deployment = Deployment()
    spec = Path(args.spec)
    if not spec.is_file():
        raise FileNotFoundError(f"no spec at {spec}")
    importer = Importer.for_deployment(deployment, project_exists, memory_limit=args.memory_limit)
    request = ImportRequest(
        name=args.name,
        project=args.project,
        spec_text=spec.read_text(encoding="utf-8"),
        inputs=tuple(Path(f) for f in args.files),
        actor=operator()[0],
        force=args.force,
        rotate_key=args.rotate_key,
    )
    result = audited_import(importer, request, Inbox(deployment.audit))
    rows = ", ".join(f"{t} {v['rows']}" for t, v in result.manifest["tables"].items())
    forced = " (FORCED below k)" if result.manifest["forced"] else ""
    print(f"imported {result.name}@{result.version} for {args.project}: {rows} rows{forced}")
    print(f"  {result.path}  manifest sha256 {result.manifest_sha256}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = DatasetStore(Deployment().datasets)
    for version in store.list():
        manifest = version.manifest
        rows = sum(t["rows"] for t in manifest.get("tables", {}).values())
        current = "current" if version.version == store.versions(version.name)[-1] else ""
        print(
            f"{version.name}@{version.version}\t{manifest.get('project')}\t{rows} rows\t"
            f"{manifest.get('imported_at')}\t{'FORCED' if manifest.get('forced') else ''}"
            f"\t{current}".rstrip()
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    version = DatasetStore(Deployment().datasets).get(args.reference)
    print(json.dumps({"path": str(version.path), **version.manifest}, indent=2))
    return 0
