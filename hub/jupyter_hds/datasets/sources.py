"""The raw files of an import: which table each is, how DuckDB reads it, and what is wrong.

A table's file is the one named by its `file =`, else the one whose name without extension
is the table's name. CSV is read strictly (comma or the spec's delimiter, double quotes, a
header line); identifiers are read as text. When DuckDB cannot read a CSV file, the file is
read again here, in Python, to say which line is wrong: never with the line's values.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .errors import ImportRefused
from .rules import ident, literal, read_types, shape
from .spec import Spec, Table

KINDS = {".csv": "csv", ".parquet": "parquet"}
SHAPE_SAMPLE = 1000


@dataclass(frozen=True)
class Source:
    table: Table
    path: Path
    kind: str

    @property
    def view(self) -> str:
        return ident(f"hds_source_{self.table.name}")


def match(spec: Spec, paths: list[Path]) -> list[Source]:
    """One file per table of the spec, and a table for every file; else ImportRefused."""
    files: dict[str, Path] = {}
    for path in map(Path, paths):
        if path.suffix.lower() not in KINDS:
            raise ImportRefused(f"{path.name}: the import reads .csv and .parquet files")
        if not path.is_file():
            raise ImportRefused(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise ImportRefused(f"{path.name} is empty")
        if path.name in files:
            raise ImportRefused(f"{path.name} is given twice")
        files[path.name] = path
    sources, used = [], set()
    for table in spec.tables:
        names = [table.file] if table.file else [f"{table.name}{s}" for s in KINDS]
        found = [files[n] for n in names if n in files]
        if len(found) != 1:
            wanted = table.file or f"{table.name}.csv or {table.name}.parquet"
            problem = "no file" if not found else "two files"
            raise ImportRefused(
                f"table {table.name}: {problem} named {wanted} among the files given; "
                f'name its file with file = "..." in [tables.{table.name}]'
            )
        used.add(found[0].name)
        sources.append(Source(table, found[0], KINDS[found[0].suffix.lower()]))
    unused = sorted(set(files) - used)
    if unused:
        raise ImportRefused(
            f"{unused[0]} is no table's file: add a [tables.NAME] for it (its columns and "
            "rules), or leave it out"
        )
    return sources


def reader(source: Source, types: dict[str, str] | None = None) -> str:
    """The DuckDB table function reading `source` (CSV with fixed `types` for some columns)."""
    path = literal(str(source.path))
    if source.kind == "parquet":
        return f"read_parquet({path})"
    table = source.table
    options = [
        f"delim={literal(table.delimiter)}",
        "quote='\"'",
        "escape='\"'",
        "header=true",
        "strict_mode=true",
        f"encoding={literal(table.encoding)}",
    ]
    if types:
        pairs = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in types.items())
        options.append(f"types={{{pairs}}}")
    return f"read_csv({path}, {', '.join(options)})"


def open_source(con: duckdb.DuckDBPyConnection, source: Source) -> dict[str, str]:
    """Create `source`'s view after checking its columns against the spec; name -> type."""
    with explained(con, source):
        columns = describe(con, reader(source))
        check_columns(con, source, columns, reader(source))
        types = read_types(source.table) if source.kind == "csv" else None
        select = f"SELECT * FROM {reader(source, types)}"  # noqa: S608 (quoted)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {source.view} AS {select}")
        return describe(con, source.view)


def describe(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608
    return {row[0]: row[1] for row in rows}


def check_columns(
    con: duckdb.DuckDBPyConnection, source: Source, columns: dict[str, str], relation: str
) -> None:
    """Every column of the file has a rule, and every rule a column (fail closed)."""
    table, name = source.table, source.path.name
    named = {c.name for c in table.columns}
    if not named & set(columns):
        hint = _delimiter_hint(source, columns)
        raise ImportRefused(
            f"{name}: none of its header's names is a column of [tables.{table.name}.columns]"
            f"{hint}; is its first line the header?"
        )
    absent = [c for c in table.columns if c.name not in columns]
    if absent:
        raise ImportRefused(
            f"spec: {absent[0].label} is not a column of {name}; its columns are "
            f"{', '.join(columns)}"
        )
    unnamed = [c for c in columns if c not in named]
    if unnamed:
        described = "; ".join(f"{c} (shapes: {_shapes(con, relation, c)})" for c in unnamed[:5])
        raise ImportRefused(
            f"{name} has columns the spec does not name, and the import names every column: "
            f"{described}; give each a rule in [tables.{table.name}.columns]"
        )


def _shapes(con: duckdb.DuckDBPyConnection, relation: str, column: str) -> str:
    sample = f"SELECT CAST({ident(column)} AS VARCHAR) AS v FROM {relation} LIMIT {SHAPE_SAMPLE}"  # noqa: S608
    rows = con.execute(
        f"SELECT hds_shape(v) AS s FROM ({sample}) WHERE v IS NOT NULL "  # noqa: S608
        "GROUP BY s ORDER BY count(*) DESC, s LIMIT 3"
    ).fetchall()
    return ", ".join(row[0] for row in rows) or "only empty values"


def _delimiter_hint(source: Source, columns: dict[str, str]) -> str:
    if source.kind == "csv" and len(columns) == 1:
        for other in (";", "\t", "|", ","):
            if other != source.table.delimiter and other in next(iter(columns)):
                shown = "\\t" if other == "\t" else other
                return f' (it may be {shown!r}-separated: set delimiter = "{shown}")'
    return ""


@contextlib.contextmanager
def explained(con: duckdb.DuckDBPyConnection, source: Source) -> Iterator[None]:
    """Turn DuckDB's errors while reading `source` into one line that carries no value."""
    try:
        yield
    except duckdb.Error as error:
        raise ImportRefused(explain(con, source, error)) from None


OUR_ERROR = re.compile(r"Invalid Input Error: hds: (.*)", re.S)
LINE = re.compile(r"CSV Error on Line: (\d+)")
CONVERSION = re.compile(
    r'converting column "(.*?)"\. Could not convert string "(.*?)" to \'(\w+)\''
)


def explain(con: duckdb.DuckDBPyConnection, source: Source, error: duckdb.Error) -> str:
    """A one-line reason for `error`, raised while reading or transforming `source`."""
    message, name = str(error), source.path.name
    ours = OUR_ERROR.search(message)
    if ours:  # raised by a rule (error() in SQL): already says which column, without values
        return ours.group(1).splitlines()[0]
    if source.kind == "parquet":
        return f"{name}: DuckDB cannot read it as Parquet ({_first_line(message)})"
    conversion = CONVERSION.search(message)
    line = LINE.search(message)
    if conversion and line:
        column, value, kind = conversion.groups()
        return (
            f"{name} line {line.group(1)}: column {column} has a value shaped "
            f"{shape(con, value)}, not {kind} like its first rows; correct the value, or give "
            f'{source.table.name}.{column} a format (dates) or type = "VARCHAR" (kept columns)'
        )
    found = diagnose_csv(source)
    if found:
        return f"{name} {found}"
    where = f" line {line.group(1)}" if line else ""
    return f"{name}{where}: DuckDB cannot read it as CSV ({_first_line(message)})"


def _first_line(message: str) -> str:
    """DuckDB's reason without the lines that quote the file ("Original Line: ...")."""
    lines = [t for t in message.splitlines() if t.strip() and "Original Line" not in t]
    text = lines[1] if LINE.search(lines[0]) and len(lines) > 1 else lines[0]
    return re.sub(r'"[^"]*"|\'[^\']*\'', '"…"', text)


def diagnose_csv(source: Source) -> str | None:
    """Read the CSV file as DuckDB was asked to, and say where it breaks (no values)."""
    table = source.table
    encoding = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}[table.encoding]
    if table.encoding == "utf-8":
        with source.path.open("rb") as stream:
            if stream.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                return f'is UTF-16 text: set encoding = "utf-16" in [tables.{table.name}]'
        bad = _undecodable_line(source.path)
        if bad:
            return (
                f"line {bad} is not UTF-8 text; if the file is Latin-1 (ISO-8859-1, as older "
                f'systems and Excel write it), set encoding = "latin-1" in '
                f"[tables.{table.name}] (DuckDB reads utf-8, utf-16 and latin-1)"
            )
    try:
        with source.path.open(encoding=encoding, newline="") as stream:
            return _broken_row(csv.reader(stream, delimiter=table.delimiter, strict=True))
    except UnicodeDecodeError:
        return f"is not {table.encoding} text; set the right encoding in [tables.{table.name}]"


def _undecodable_line(path: Path) -> int | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError:
                return number
    return None


def _broken_row(rows) -> str | None:
    header: list[str] | None = None
    start = 1
    try:
        for row in rows:
            if not row:  # a blank line, which DuckDB skips too
                pass
            elif header is None:
                header = row
            elif len(row) != len(header):
                return f"line {start}: {len(row)} fields where the header has {len(header)}"
            start = rows.line_num + 1
    except csv.Error:
        return f"line {start}: a quoted field is not closed, or a quote sits inside a field"
    return None
