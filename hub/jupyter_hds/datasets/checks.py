"""What an import must satisfy before it is published: no identifier left, k-anonymity.

Both run over the transformed tables (the Parquet files in the build folder):
- identifiers: each kept column that is text (or whole numbers) is scanned with the detectors.
  A column is flagged when one value looks like a NIR, an e-mail or a phone number, or when
  most of its values look like postcodes (5 digits are also amounts, codes, counts). A
  flagged column refuses the import unless its spec says `allow_identifiers = true`; the
  other rules' outputs (pseudonyms, shifted dates, generalisations) have fixed shapes.
- k-anonymity: per table, rows grouped by that table's declared quasi-identifiers; the
  smallest group and the rows in groups under k. Groups count rows, not people, and
  combinations across tables are not measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from .identifiers import DETECTORS
from .rules import INTEGER_TYPES, ident, literal
from .spec import Spec, Table


def columns_of(con: duckdb.DuckDBPyConnection, parquet: Path) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal(str(parquet))})").fetchall()  # noqa: S608
    return {row[0]: row[1] for row in rows}


def identifier_findings(
    con: duckdb.DuckDBPyConnection, table: Table, parquet: Path
) -> list[dict[str, Any]]:
    """The kept columns of `table` that look like direct identifiers, with counts per kind."""
    types = columns_of(con, parquet)
    kept = [c for c in table.outputs if c.rule == "keep"]
    scanned = [c for c in kept if types[c.output] == "VARCHAR" or types[c.output] in INTEGER_TYPES]
    if not scanned:
        return []
    counts = []
    for column in scanned:
        text = f"CAST({ident(column.output)} AS VARCHAR)"
        counts.append(f"count({ident(column.output)})")
        counts.extend(f"count_if(hds_is_{kind}({text}))" for kind in DETECTORS)
    source = f"read_parquet({literal(str(parquet))})"
    row = con.execute(f"SELECT {', '.join(counts)} FROM {source}").fetchone() or ()  # noqa: S608
    findings = []
    for index, column in enumerate(scanned):
        values, *found = row[index * 5 : index * 5 + 5]
        kinds = {kind: n for kind, n in zip(DETECTORS, found, strict=True) if n}
        if kinds.get("postcode", 0) * 2 < values:
            kinds.pop("postcode", None)  # a few 5-digit values are not a postcode column
        if kinds:
            findings.append(
                {
                    "column": f"{table.name}.{column.output}",
                    "values": values,
                    "looks_like": kinds,
                    "allowed": column.allow_identifiers,
                }
            )
    return findings


def k_anonymity(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], parquet: Path, k: int
) -> dict[str, Any]:
    """Smallest group and rows in groups under `k`, grouping `table`'s rows by `columns`."""
    source = f"read_parquet({literal(str(parquet))})"
    groups = f"SELECT count(*) AS n FROM {source} GROUP BY {', '.join(map(ident, columns))}"  # noqa: S608
    smallest, under, count = con.execute(
        f"SELECT min(n), coalesce(sum(n) FILTER (WHERE n < {int(k)}), 0), count(*) "  # noqa: S608
        f"FROM ({groups})"
    ).fetchone() or (0, 0, 0)
    return {
        "quasi_identifiers": columns,
        "groups": count,
        "smallest_group": smallest or 0,
        "rows_in_groups_under_k": int(under),
    }


def run(con: duckdb.DuckDBPyConnection, spec: Spec, outputs: dict[str, Path]) -> dict[str, Any]:
    """The checks' report over the transformed tables (`outputs`: table -> Parquet file)."""
    identifiers = []
    for table in spec.tables:
        identifiers.extend(identifier_findings(con, table, outputs[table.name]))
    per_table: dict[str, dict[str, Any]] = {}
    for table in spec.tables:
        columns = [column for name, column in spec.quasi_identifiers if name == table.name]
        if columns:
            per_table[table.name] = k_anonymity(
                con, table.name, columns, outputs[table.name], spec.k
            )
    below = sorted(name for name, r in per_table.items() if r["rows_in_groups_under_k"])
    return {
        "identifiers": identifiers,
        "identifiers_refused": [f["column"] for f in identifiers if not f["allowed"]],
        "k_anonymity": {"k": spec.k, "tables": per_table, "below_k": below},
    }


def refusal(report: dict[str, Any], force: bool) -> str | None:
    """Why the report refuses the import (None: it passes); `force` overrides only k."""
    refused = [f for f in report["identifiers"] if not f["allowed"]]
    if refused:
        found = refused[0]
        kinds = ", ".join(f"{n} {kind}" for kind, n in found["looks_like"].items())
        more = f" (and {len(refused) - 1} more column(s))" if len(refused) > 1 else ""
        return (
            f"{found['column']} still looks like a direct identifier ({kinds} of "
            f"{found['values']} values){more}: drop or pseudonymise it, or set "
            "allow_identifiers = true on it if these values are not identifiers"
        )
    below = report["k_anonymity"]["below_k"]
    if below and not force:
        first = report["k_anonymity"]["tables"][below[0]]
        k = report["k_anonymity"]["k"]
        return (
            f"{below[0]}: {first['rows_in_groups_under_k']} rows sit in groups smaller than "
            f"k = {k} over {', '.join(first['quasi_identifiers'])} (smallest group: "
            f"{first['smallest_group']}); generalise further, or import with --force "
            "(recorded in the manifest)"
        )
    return None
