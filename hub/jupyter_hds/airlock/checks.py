"""Automatic checks of frozen files, shown to reviewers: facts and flags, never a decision.

Tables (CSV, TSV, Parquet, read with DuckDB): rows, and per numeric column its minimum, its
smallest non-zero value and every non-zero whole number at or under the threshold (small
counts), counts not rounded when rounding is expected; columns that look like identifiers
(pseudonyms, full dates, postcodes finer than the département, values that occur in the
project dataset's identifier columns). Images and PDFs: size, dimensions or page count.
Notebooks: outputs holding tables or figures. Anything else needs a careful read.

A check that finds nothing proves nothing: a table can disclose in ways no rule catches
(differences between two tables, a total minus a published figure). The reviewers decide.
"""

from __future__ import annotations

import json
import re
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ..policy.airlock import DisclosureRules

TABLES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".parquet": None}
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
NUMERIC_TYPES = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*)$")
DATE_TYPES = re.compile(r"^(DATE|TIMESTAMP.*)$")
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}")
POSTCODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
HEX_ID = re.compile(r"^[0-9a-f]{16,64}$")
BIRTH = re.compile(r"birth|naiss|\bdob\b|\bddn\b", re.IGNORECASE)
POSTCODE_NAME = re.compile(r"post|zip|code_?postal|\bcp\b|commune", re.IGNORECASE)
MOSTLY = 0.8  # share of values that must match for a column to be flagged by its values
NUMERIC_SHARE = 0.5  # a text column is numeric when this share are numbers ("<5" marks the rest)
MAX_DISTINCT = 20_000  # distinct values of one column read into Python
MAX_SMALL = 200  # small-count cells listed per column
MAX_DATASET_FILES = 50


@dataclass(frozen=True)
class Flag:
    """Something a reviewer should look at: a code, a sentence, and where."""

    code: str
    message: str
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "column": self.column}


@dataclass
class FileCheck:
    """What the checks found in one file."""

    kind: str
    summary: dict[str, Any] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    careful_read: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "summary": self.summary,
            "flags": [f.to_dict() for f in self.flags],
            "careful_read": self.careful_read,
        }


@dataclass(frozen=True)
class DatasetColumn:
    """A column of the project dataset that identifies people (values looked up in outputs)."""

    file: Path
    column: str
    why: str

    @property
    def label(self) -> str:
        return f"{self.file.stem}.{self.column}"


@dataclass(frozen=True)
class Context:
    """What the checks compare against: the project's rules, pseudonyms, dataset identifiers."""

    rules: DisclosureRules
    pseudonym: re.Pattern[str]
    dataset: tuple[DatasetColumn, ...] = ()


def kind_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in TABLES:
        return "table"
    if suffix in IMAGES:
        return "image"
    if suffix == ".pdf":
        return "pdf"
    if suffix == ".ipynb":
        return "notebook"
    if suffix in (".txt", ".md", ".markdown"):
        return "text"
    return "other"


def check_file(path: Path, name: str, context: Context) -> FileCheck:
    """The checks of one frozen file (`name`: its path in the request, which gives its kind)."""
    kind = kind_of(name)
    check = {"table": check_table, "image": check_image, "pdf": check_pdf,
             "notebook": check_notebook}.get(kind, check_text)  # fmt: skip
    result = check(path, name, context)
    result.summary["bytes"] = path.stat().st_size
    return result


# ---------------------------------------------------------------------------- tables


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 1")
    con.execute("SET memory_limit = '512MB'")
    return con


def load_table(con: duckdb.DuckDBPyConnection, path: Path, name: str, table: str = "t") -> None:
    """Load a CSV/TSV/Parquet file as table `table`; ValueError saying why it cannot be read."""
    delimiter = TABLES[Path(name).suffix.lower()]
    try:
        if delimiter is None:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet(?)", [str(path)])  # noqa: S608
        else:
            con.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, delim = ?, sample_size = -1)",  # noqa: S608
                [str(path), delimiter],
            )
    except duckdb.Error as error:
        raise ValueError(str(error).splitlines()[0]) from None


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple:
    """The single row `sql` answers (an aggregate)."""
    row = con.execute(sql, params or []).fetchone()
    assert row is not None, sql
    return row


def literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def columns_of(con: duckdb.DuckDBPyConnection, table: str = "t") -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {table}").fetchall()]


def numeric_expression(column: str, type_: str) -> str:
    """SQL for a column's values as numbers (text that is not a number gives NULL)."""
    q = quote(column)
    return f"CAST({q} AS DOUBLE)" if NUMERIC_TYPES.match(type_) else f"TRY_CAST({q} AS DOUBLE)"


def check_table(path: Path, name: str, context: Context) -> FileCheck:
    result = FileCheck("table")
    con = connect()
    try:
        try:
            load_table(con, path, name)
        except ValueError as error:
            result.flags.append(Flag("unreadable", f"Not readable as a table: {error}"))
            result.careful_read = True
            return result
        (rows,) = one(con, "SELECT count(*) FROM t")
        result.summary.update(rows=rows, columns=[])
        for column, type_ in columns_of(con):
            summary = _column(con, column, type_, context, result.flags)
            result.summary["columns"].append(summary)
        _dataset_values(con, context, result.flags)
    finally:
        con.close()
    return result


def _column(con, column: str, type_: str, context: Context, flags: list[Flag]) -> dict[str, Any]:
    q, value = quote(column), numeric_expression(column, type_)
    non_null, numbers = one(con, f"SELECT count({q}), count({value}) FROM t")  # noqa: S608
    summary: dict[str, Any] = {"name": column, "type": type_, "values": non_null}
    if non_null and numbers >= NUMERIC_SHARE * non_null and type_ != "BOOLEAN":
        summary.update(_numeric(con, column, value, context.rules, flags))
    if type_ == "VARCHAR" or DATE_TYPES.match(type_) or POSTCODE_NAME.search(column):
        summary["identifier"] = _identifier(con, column, type_, context, flags)
    return summary


def _numeric(con, column: str, value: str, rules: DisclosureRules, flags: list[Flag]):
    low, high, low_nonzero = one(
        con,
        f"SELECT min({value}), max({value}), min({value}) FILTER (WHERE {value} > 0) FROM t",  # noqa: S608
    )
    small = con.execute(
        f"SELECT {value} AS v, count(*) FROM t WHERE {value} > 0 AND {value} <= ? "  # noqa: S608
        f"AND {value} = floor({value}) GROUP BY v ORDER BY v",
        [rules.threshold],
    ).fetchall()
    stats = {"numeric": True, "min": _number(low), "max": _number(high),
             "min_nonzero": _number(low_nonzero),
             "small_counts": [[_number(v), n] for v, n in small]}  # fmt: skip
    if small:
        values = ", ".join(str(_number(v)) for v, _ in small)
        cells = sum(n for _, n in small)
        flags.append(Flag("small-count", f"{column}: {cells} cell(s) with a count from 1 to "
                          f"{rules.threshold} ({values})", column))  # fmt: skip
    if rules.rounding:
        (unrounded,) = one(
            con,
            f"SELECT count(*) FROM t WHERE {value} = floor({value}) AND {value} <> 0 "  # noqa: S608
            f"AND {value} % ? <> 0",
            [rules.rounding],
        )
        stats["not_rounded"] = unrounded
        if unrounded:
            flags.append(Flag("not-rounded", f"{column}: {unrounded} whole number(s) not "
                              f"rounded to a multiple of {rules.rounding}", column))  # fmt: skip
    return stats


def _number(value: float | None) -> int | float | None:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return value
    return int(value) if value == int(value) else value


def _identifier(con, column: str, type_: str, context: Context, flags: list[Flag]) -> str | None:
    """Why a column looks like identifiers (flagged), or None."""
    q = quote(column)
    values = [
        str(v)
        for (v,) in con.execute(
            f"SELECT DISTINCT {q} FROM t WHERE {q} IS NOT NULL LIMIT {MAX_DISTINCT}"  # noqa: S608
        ).fetchall()
    ]
    why = identifier_reason(column, type_, values, context.pseudonym)
    if why:
        flags.append(Flag("identifier", f"{column}: {why}", column))
    return why


def identifier_reason(
    column: str, type_: str, values: list[str], pseudonym: re.Pattern[str]
) -> str | None:
    """Why values of a column look like identifiers, or None."""
    if not values:
        return None

    def mostly(pattern: re.Pattern[str]) -> bool:
        return sum(1 for v in values if pattern.search(v)) >= MOSTLY * len(values)

    if mostly(pseudonym):
        return "looks like pseudonyms (the dataset import's format): never release them"
    if mostly(POSTCODE) and (type_ == "VARCHAR" or POSTCODE_NAME.search(column)):
        return "looks like postcodes, finer than the département"
    if DATE_TYPES.match(type_) or mostly(DATE_TEXT):
        days = {v[8:10] for v in values if DATE_TEXT.search(v)}
        if BIRTH.search(column):
            return "looks like dates of birth"
        if days - {"01"}:
            return "full dates (to the day): dates of birth, stays or deaths can identify people"
    return None


def _dataset_values(con, context: Context, flags: list[Flag]) -> None:
    """Flag columns whose values occur in the dataset's identifier columns."""
    candidates = [c for c, t in columns_of(con) if t == "VARCHAR" or DATE_TYPES.match(t)]
    for column in candidates:
        q = quote(column)
        for source in context.dataset:
            try:
                (found,) = one(
                    con,
                    f"SELECT count(DISTINCT CAST({q} AS VARCHAR)) FROM t WHERE CAST({q} AS "  # noqa: S608
                    f"VARCHAR) IN (SELECT CAST({quote(source.column)} AS VARCHAR) FROM "
                    "read_parquet(?))",
                    [str(source.file)],
                )
            except duckdb.Error:
                continue
            if found:
                flags.append(Flag("dataset-values", f"{column}: {found} value(s) occur in the "
                                  f"dataset's {source.label} ({source.why})", column))  # fmt: skip


# ------------------------------------------------------------------- dataset columns

_index_lock = threading.Lock()
_index: dict[tuple[str, str, tuple[tuple[str, int], ...]], tuple[DatasetColumn, ...]] = {}


def dataset_identifiers(
    folder: Path | None, pseudonym: re.Pattern[str]
) -> tuple[DatasetColumn, ...]:
    """The dataset's columns that identify people, remembered until its files change."""
    if folder is None or not folder.is_dir():
        return ()
    files = sorted(folder.rglob("*.parquet"))[:MAX_DATASET_FILES]
    key = (str(folder), pseudonym.pattern, tuple((str(f), f.stat().st_mtime_ns) for f in files))
    with _index_lock:
        if key not in _index:
            _index[key] = tuple(c for f in files for c in _identifier_columns(f, pseudonym))
        return _index[key]


def _identifier_columns(path: Path, pseudonym: re.Pattern[str]) -> Iterable[DatasetColumn]:
    con = connect()
    try:
        # A view cannot take a prepared parameter: the path (the hub's own) is a literal.
        con.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet({literal(path)})")  # noqa: S608
        for column, type_ in columns_of(con, "d"):
            why = _dataset_reason(con, column, type_, pseudonym)
            if why:
                yield DatasetColumn(path, column, why)
    except duckdb.Error:
        return
    finally:
        con.close()


def _dataset_reason(con, column: str, type_: str, pseudonym: re.Pattern[str]) -> str | None:
    q = quote(column)
    if DATE_TYPES.match(type_):
        return "dates of birth" if BIRTH.search(column) else None
    if type_ != "VARCHAR":
        return None
    query = f"SELECT {q} FROM d WHERE {q} IS NOT NULL LIMIT 1000"  # noqa: S608
    sample = [v for (v,) in con.execute(query).fetchall()]
    if not sample:
        return None
    if sum(1 for v in sample if pseudonym.search(v) or HEX_ID.match(v)) >= MOSTLY * len(sample):
        return "pseudonyms"
    if sum(1 for v in sample if POSTCODE.match(v)) >= MOSTLY * len(sample):
        return "postcodes"
    if BIRTH.search(column):
        return "dates of birth"
    distinct, count = one(
        con,
        f"SELECT approx_count_distinct({q}), count({q}) FROM d",  # noqa: S608
    )
    if count >= 50 and distinct >= 0.95 * count:
        return "a value per row: an identifier"
    return None


# ------------------------------------------------------------------ images and PDFs


def check_image(path: Path, name: str, context: Context) -> FileCheck:
    data = path.read_bytes()
    result = FileCheck("image")
    size = image_size(data, Path(name).suffix.lower())
    if size is None:
        result.flags.append(Flag("unreadable", "Not a readable image of its type: open it."))
        result.careful_read = True
    else:
        result.summary.update(width=size[0], height=size[1])
    if name.lower().endswith(".svg"):
        texts = len(re.findall(rb"<text\b", data))
        result.summary["text_elements"] = texts
        if re.search(rb"<script\b|\bon[a-z]+\s*=", data, re.IGNORECASE):
            result.flags.append(Flag("script", "The SVG holds scripts or event handlers."))
    return result


def image_size(data: bytes, suffix: str) -> tuple[int, int] | None:
    """(width, height) read from the file's header, or None."""
    if suffix == ".png" and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if suffix == ".gif" and data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if suffix in (".jpg", ".jpeg") and data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if suffix == ".svg":
        return _svg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def _svg_size(data: bytes) -> tuple[int, int] | None:
    tag = re.search(rb"<svg\b[^>]*>", data[:65536], re.IGNORECASE)
    if not tag:
        return None
    attributes = dict(re.findall(rb'\b(width|height|viewBox)\s*=\s*["\']([^"\']*)["\']', tag[0]))
    try:
        if b"width" in attributes and b"height" in attributes:
            return _length(attributes[b"width"]), _length(attributes[b"height"])
        box = [float(v) for v in re.split(rb"[\s,]+", attributes[b"viewBox"].strip())]
        return int(box[2]), int(box[3])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _length(value: bytes) -> int:
    """An SVG length's number ("300", "300px", "12.5cm" -> 12); ValueError if there is none."""
    found = re.match(rb"[\d.]+", value)
    if found is None:
        raise ValueError(value)
    return int(float(found[0]))


def check_pdf(path: Path, name: str, context: Context) -> FileCheck:
    data = path.read_bytes()
    result = FileCheck("pdf")
    if not data.startswith(b"%PDF-"):
        result.flags.append(Flag("unreadable", "Not a PDF file: read it carefully."))
        result.careful_read = True
        return result
    result.summary["pages"] = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    if re.search(rb"/(JavaScript|JS|EmbeddedFile|Launch)\b", data):
        result.flags.append(Flag("active-content", "The PDF holds scripts or attached files."))
    return result


# ------------------------------------------------------------------- notebooks, text


def check_notebook(path: Path, name: str, context: Context) -> FileCheck:
    result = FileCheck("notebook")
    try:
        cells = json.loads(path.read_bytes())["cells"]
    except (ValueError, KeyError, TypeError):
        result.flags.append(Flag("unreadable", "Not a readable notebook: read it as text."))
        result.careful_read = True
        return result
    code = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    outputs = sum(len(c.get("outputs") or []) for c in code)
    result.summary.update(cells=len(cells), code_cells=len(code), outputs=outputs)
    for number, cell in enumerate(cells, start=1):
        for what in notebook_output_kinds(cell):
            result.flags.append(Flag(f"output-{what}", f"cell {number}: an output holds a {what}"))
        if isinstance(cell, dict) and cell.get("attachments"):
            result.flags.append(Flag("attachment", f"cell {number}: embedded attachments"))
    result.flags.extend(_pseudonyms_in_text(path.read_text(errors="replace"), context))
    return result


def notebook_output_kinds(cell: Any) -> list[str]:
    """'table' and 'figure' for a cell whose outputs hold them."""
    kinds = []
    for output in (cell.get("outputs") or []) if isinstance(cell, dict) else []:
        data = output.get("data") or {} if isinstance(output, dict) else {}
        html = "".join(data.get("text/html") or []) if isinstance(data, dict) else ""
        if "<table" in html and "table" not in kinds:
            kinds.append("table")
        if any(k.startswith("image/") for k in data) and "figure" not in kinds:
            kinds.append("figure")
    return kinds


def check_text(path: Path, name: str, context: Context) -> FileCheck:
    kind = kind_of(name)
    result = FileCheck(kind, careful_read=True)
    data = path.read_bytes()
    try:
        text = data.decode()
    except UnicodeDecodeError:
        result.summary["binary"] = True
        result.flags.append(Flag("binary", "Not text: it cannot be shown or checked here."))
        return result
    result.summary["lines"] = text.count("\n") + (not text.endswith("\n") and bool(text))
    result.flags.extend(_pseudonyms_in_text(text, context))
    return result


def _pseudonyms_in_text(text: str, context: Context) -> list[Flag]:
    words = set(re.findall(r"[0-9A-Za-z]{8,64}", text))
    found = sorted(w for w in words if context.pseudonym.search(w))
    if not found:
        return []
    return [Flag("identifier", f"{len(found)} word(s) look like pseudonyms, e.g. {found[0]}")]
