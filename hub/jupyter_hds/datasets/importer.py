"""One import from raw files to a published version: checks, transformation, manifest, audit.

`Importer.run(ImportRequest)` is what the `hds dataset import` command and a hub handler
call; `audited_import` does the same and records the outcome in the audit inbox. Nothing
is published unless every step passed; a refusal is an ImportRefused whose message says
what to change, and never quotes a value of the files.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from .. import __version__
from ..audit.intake import new_event
from . import checks, identifiers, rules
from .errors import ImportRefused
from .keys import ProjectKeys, key_id
from .names import check_name
from .sources import Source, explained, match, open_source
from .spec import Spec, parse_spec
from .store import Build, DatasetStore

MANIFEST_FORMAT = "jupyter-hds dataset manifest 1"
# An identifier whose first SAMPLE values are all different (a stay's number) is hashed in
# the row; one that repeats there (a person's, even in random order) once per value, joined.
SAMPLE = 100_000


@dataclass(frozen=True)
class ImportRequest:
    name: str
    project: str
    spec_text: str
    inputs: tuple[Path, ...]
    actor: str
    force: bool = False
    rotate_key: bool = False


@dataclass(frozen=True)
class ImportResult:
    name: str
    version: int
    path: Path
    manifest: dict[str, Any] = field(repr=False)
    manifest_sha256: str = ""


class Importer:
    """Imports into a datasets folder with a keys folder; `project_exists(name)` says who may."""

    def __init__(
        self,
        datasets: DatasetStore,
        keys: ProjectKeys,
        project_exists: Callable[[str], bool],
        memory_limit: str = "1GB",
        threads: int | None = None,
    ):
        self.datasets, self.keys, self.project_exists = datasets, keys, project_exists
        self.memory_limit, self.threads = memory_limit, threads

    @classmethod
    def for_deployment(cls, deployment, project_exists: Callable[[str], bool], **options):
        """An importer on a `jupyter_hds.deployment.Deployment`'s folders."""
        datasets, keys = DatasetStore(deployment.datasets), ProjectKeys(deployment.keys)
        return cls(datasets, keys, project_exists, **options)

    def run(self, request: ImportRequest) -> ImportResult:
        try:
            check_name(request.name)
        except ValueError as error:
            raise ImportRefused(str(error)) from None
        if not self.project_exists(request.project):
            raise ImportRefused(f"there is no project {request.project!r}; create it first")
        spec = parse_spec(request.spec_text)
        sources = match(spec, list(request.inputs))
        stop = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            digests = pool.submit(_digests, [s.path for s in sources], stop)
            try:
                with self.datasets.building(request.name) as build:
                    return self._build(request, spec, sources, build, digests.result)
            finally:
                stop.set()

    def _build(self, request, spec: Spec, sources: list[Source], build: Build, digests):
        if request.rotate_key:
            secret = ProjectKeys.fresh()
        else:
            secret = self.keys.get_or_create(request.project)
        tables, report = self._transform(spec, sources, secret, build)
        reason = checks.refusal(report, request.force)
        if reason:
            raise ImportRefused(reason, report)
        hashes = digests()
        manifest = {
            "format": MANIFEST_FORMAT,
            "dataset": request.name,
            "project": request.project,
            "imported_by": request.actor,
            "imported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key_id": key_id(secret),
            "key_rotated": request.rotate_key,
            "forced": bool(request.force and report["k_anonymity"]["below_k"]),
            "tables": tables,
            "inputs": [
                {"file": s.path.name, "table": s.table.name, **hashes[s.path]} for s in sources
            ],
            "checks": report,
            "spec": spec.text,
            "software": {"jupyter_hds": __version__, "duckdb": duckdb.__version__},
        }
        if request.rotate_key:
            self.keys.replace(request.project, secret)
        version, path, data = build.publish(manifest)
        manifest["version"] = version
        return ImportResult(request.name, version, path, manifest, hashlib.sha256(data).hexdigest())

    def _transform(self, spec: Spec, sources: list[Source], secret: bytes, build: Build):
        """Every table written to the build folder, then the checks' report over them."""
        con = self._connect(build)
        try:
            rules.install(con, secret)
            identifiers.install(con)
            types = {s.table.name: open_source(con, s) for s in sources}
            for source in sources:
                _not_empty(con, source)
            plans = {s.table.name: _select(con, s, types[s.table.name], spec) for s in sources}
            tables, outputs = {}, {}
            for source in sources:
                name = source.table.name
                outputs[name] = build.path / f"{name}.parquet"
                with explained(con, source):
                    rows = _copy(con, source, spec, plans[name], outputs[name])
                tables[name] = {
                    "file": outputs[name].name,
                    "rows": rows,
                    **_digest(outputs[name]),
                    "columns": _columns(con, source, outputs[name]),
                }
            return tables, checks.run(con, spec, outputs)
        finally:
            con.close()

    def _connect(self, build: Build) -> duckdb.DuckDBPyConnection:
        config: dict[str, Any] = {
            "memory_limit": self.memory_limit,
            "temp_directory": str(build.spill),
            "preserve_insertion_order": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if self.threads:
            config["threads"] = self.threads
        return duckdb.connect(":memory:", config=config)


def _not_empty(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    with explained(con, source):
        row = con.execute(f"SELECT 1 FROM {source.view} LIMIT 1").fetchone()  # noqa: S608
    if row is None:
        raise ImportRefused(f"{source.path.name} has no rows")


def _select(con, source: Source, types: dict[str, str], spec: Spec) -> Plan:
    """How `source` is transformed; refuses rules that do not fit its columns' types."""
    joins: dict[str, str] = {}
    for name in rules.hashed(source.table):
        with explained(con, source):
            repeats = con.execute(rules.repeats_sql(source.view, name, SAMPLE)).fetchone()
        if repeats and repeats[0]:
            joins[name] = f"i{len(joins)}"
    hashes = {
        name: rules.hash_sql(name, joins.get(name), spec.max_days)
        for name in rules.hashed(source.table)
    }
    return Plan(rules.select_list(source.table, types, hashes), joins)


@dataclass(frozen=True)
class Plan:
    """A table's output columns as SQL, and its identifiers hashed once per distinct value."""

    columns: list[str]
    joins: dict[str, str]


def _copy(con, source: Source, spec: Spec, plan: Plan, target: Path) -> int:
    """Stream `source` through its rules into `target` (Parquet); the rows written."""
    join_sql = ""
    hashed = rules.hashed(source.table)
    for name, alias in plan.joins.items():
        pseudonym, shift = hashed[name]
        ids = rules.ids_table_sql(source.view, name, pseudonym, shift, spec.max_days)
        con.execute(f"CREATE OR REPLACE TEMP TABLE hds_ids_{alias} AS {ids}")
        join_sql += (
            f" LEFT JOIN hds_ids_{alias} {alias} "
            f"ON CAST(s.{rules.ident(name)} AS VARCHAR) = {alias}.raw"
        )
    query = f"SELECT {', '.join(plan.columns)} FROM {source.view} s{join_sql}"  # noqa: S608 (quoted)
    try:
        copy = f"COPY ({query}) TO {rules.literal(str(target))} (FORMAT parquet)"
        return con.execute(copy).fetchone()[0]
    finally:
        for alias in plan.joins.values():
            con.execute(f"DROP TABLE IF EXISTS hds_ids_{alias}")


def _columns(con, source: Source, parquet: Path) -> list[dict[str, str]]:
    types = checks.columns_of(con, parquet)
    return [
        {"name": c.output, "type": types[c.output], "rule": c.rule, "from": c.name}
        for c in source.table.outputs
    ]


def _digest(path: Path) -> dict[str, Any]:
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return {"sha256": digest, "bytes": path.stat().st_size}


def _digests(paths: list[Path], stop: threading.Event) -> dict[Path, dict[str, Any]]:
    """sha256 and size of the input files, computed while DuckDB works."""
    found: dict[Path, dict[str, Any]] = {}
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                if stop.is_set():
                    return found
                digest.update(chunk)
        found[path] = {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}
    return found


def audited_import(
    importer: Importer, request: ImportRequest, inbox, source: str = "datasets"
) -> ImportResult:
    """`importer.run(request)`, its outcome put in the audit inbox (`audit.inbox.Inbox`).

    `source` names the inbox file: the command's default, "hub" from a hub handler.
    """
    common = {
        "dataset": request.name,
        "inputs": [Path(p).name for p in request.inputs],
        "force": request.force,
        "rotate_key": request.rotate_key,
    }
    try:
        result = importer.run(request)
    except ImportRefused as refused:
        inbox.put([_event(request, "refused", {**common, "reason": str(refused)})], source)
        raise
    except Exception as error:
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        inbox.put([_event(request, "failed", {**common, "reason": reason})], source)
        raise
    manifest = result.manifest
    details = {
        **common,
        "version": result.version,
        "manifest_sha256": result.manifest_sha256,
        "key_id": manifest["key_id"],
        "forced": manifest["forced"],
        "rows": {name: table["rows"] for name, table in manifest["tables"].items()},
    }
    target = f"{result.name}@{result.version}"
    inbox.put([_event(request, "succeeded", details, target=target)], source)
    return result


def _event(request: ImportRequest, outcome: str, details: dict, target: str | None = None):
    action = "dataset.import.refused" if outcome == "refused" else "dataset.import"
    return new_event(
        action,
        request.actor,
        "admin",
        outcome,
        project=request.project,
        target=target or request.name,
        details=details,
    )
