"""Frozen files as a reviewer reads them in the page: tables with flagged cells, notebooks, text.

Nothing here runs or interprets a file: tables are read by DuckDB, notebooks as JSON, text
as text; the page escapes every value. Images are shown from their frozen bytes by URL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import checks

MAX_ROWS = 200
MAX_TEXT = 200_000  # characters of a text file shown
MAX_OUTPUT = 20_000  # characters of one notebook output shown


@dataclass
class TablePreview:
    """The first rows of a table; each cell's text and why it is flagged ('' when it is not)."""

    columns: list[dict[str, Any]]
    rows: list[list[tuple[str, str]]]
    total: int
    error: str = ""


@dataclass
class CellPreview:
    kind: str
    source: str
    outputs: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)


def preview(path: Path, name: str, check: dict[str, Any], threshold: int, rounding: int):
    """What the page shows for one file: a TablePreview, notebook cells, text, or None."""
    kind = check.get("kind")
    if kind == "table":
        return table(path, name, check, threshold, rounding)
    if kind == "notebook":
        return notebook(path)
    if kind in ("text", "other") and not check.get("summary", {}).get("binary"):
        return text(path)
    return None


def table(path: Path, name: str, check: dict[str, Any], threshold: int, rounding: int):
    columns = check.get("summary", {}).get("columns", [])
    con = checks.connect()
    try:
        try:
            checks.load_table(con, path, name)
        except ValueError as error:
            return TablePreview([], [], 0, str(error))
        (total,) = checks.one(con, "SELECT count(*) FROM t")
        rows = con.execute(f"SELECT * FROM t LIMIT {MAX_ROWS}").fetchall()  # noqa: S608
    finally:
        con.close()
    return TablePreview(
        columns, [[_cell(v, c, threshold, rounding) for v, c in zip(row, columns, strict=False)]
                  for row in rows], total,
    )  # fmt: skip


def _cell(value: Any, column: dict[str, Any], threshold: int, rounding: int) -> tuple[str, str]:
    shown = "" if value is None else str(value)
    if column.get("identifier"):
        return shown, "identifier"
    if not column.get("numeric") or value is None:
        return shown, ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return shown, ""
    if number != int(number):
        return shown, ""
    if 0 < number <= threshold:
        return shown, "small-count"
    if rounding and number and int(number) % rounding:
        return shown, "not-rounded"
    return shown, ""


def notebook(path: Path) -> list[CellPreview]:
    try:
        cells = json.loads(path.read_bytes())["cells"]
    except (ValueError, KeyError, TypeError):
        return [CellPreview("raw", text(path))]
    shown = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        outputs = [_output(o) for o in cell.get("outputs") or [] if isinstance(o, dict)]
        shown.append(CellPreview(str(cell.get("cell_type", "?")), _joined(cell.get("source")),
                                 [o for o in outputs if o],
                                 checks.notebook_output_kinds(cell)))  # fmt: skip
    return shown


def _output(output: dict[str, Any]) -> str:
    """An output as text: its plain-text form (a DataFrame's table, a figure's description)."""
    if output.get("output_type") == "stream":
        body = _joined(output.get("text"))
    elif output.get("output_type") == "error":
        body = f"{output.get('ename')}: {output.get('evalue')}"
    else:
        data = output.get("data") or {}
        body = _joined(data.get("text/plain")) if isinstance(data, dict) else ""
        if isinstance(data, dict) and any(k.startswith("image/") for k in data):
            body = f"[figure: {', '.join(k for k in data if k.startswith('image/'))}] {body}"
    return body[:MAX_OUTPUT]


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def text(path: Path) -> str:
    data = path.read_bytes()[: MAX_TEXT * 4]
    return data.decode(errors="replace")[:MAX_TEXT]
