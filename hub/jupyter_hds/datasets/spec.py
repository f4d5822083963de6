"""The import spec (TOML): for every column of every table, exactly one rule, and the checks.

    [date_shift]
    max_days = 180                          # needed when a column is date-shifted

    [checks]
    k = 5
    quasi_identifiers = ["patients.sex", "patients.birth_year"]   # table.output_column

    [tables.patients]                       # file: patients.csv or .parquet, or `file = ...`
    columns.patient_id = "pseudonym"
    columns.name = "drop"
    columns.birth_date = { rule = "generalise", to = "year", as = "birth_year" }

Parsing only reads and checks the text; the file's columns are checked against it later.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from .errors import ImportRefused
from .names import TABLE_NAME

RULES = ("drop", "pseudonym", "date_shift", "generalise", "keep")
# Options each rule accepts besides `rule`; anything else is refused by name.
OPTIONS = {
    "drop": (),
    "pseudonym": ("as",),
    "date_shift": ("person", "format", "as"),
    "generalise": ("to", "width", "top", "format", "as"),
    "keep": ("as", "type", "allow_identifiers"),
}
GENERALISE_TO = ("month", "year", "band", "departement")
# What DuckDB reads without an extension (the encodings extension is a download).
CSV_ENCODINGS = ("utf-8", "utf-16", "latin-1")
KEEP_TYPES = ("VARCHAR", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN")
MAX_SHIFT_DAYS = 3650
SECTIONS = ("tables", "checks", "date_shift")
TABLE_KEYS = ("file", "delimiter", "encoding", "columns")


@dataclass(frozen=True)
class Column:
    """One input column and what becomes of it: `output` names it in the table written."""

    table: str
    name: str
    rule: str
    output: str
    person: str | None = None
    to: str | None = None
    width: int | None = None
    top: int | None = None
    format: str | None = None
    type: str | None = None
    allow_identifiers: bool = False

    @property
    def label(self) -> str:
        return f"{self.table}.{self.name}"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    file: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def outputs(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.rule != "drop")


@dataclass(frozen=True)
class Spec:
    text: str
    tables: tuple[Table, ...]
    k: int
    quasi_identifiers: tuple[tuple[str, str], ...]
    max_days: int | None = None

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def refuse(message: str) -> ImportRefused:
    return ImportRefused(f"spec: {message}")


def parse_spec(text: str) -> Spec:
    """The spec in `text`, checked; ImportRefused naming the first problem and its fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise refuse(f"not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise refuse(
            f"unknown section [{unknown[0]}]; sections are [tables.NAME], [checks], [date_shift]"
        )
    tables = _tables(data.get("tables"))
    max_days = _max_days(data.get("date_shift"), tables)
    k, quasi = _checks(data.get("checks"), tables)
    return Spec(text=text, tables=tables, k=k, quasi_identifiers=quasi, max_days=max_days)


def _tables(raw: Any) -> tuple[Table, ...]:
    if not isinstance(raw, dict) or not raw:
        raise refuse("name at least one table: [tables.NAME] with its columns")
    return tuple(_table(name, value) for name, value in raw.items())


def _table(name: str, raw: Any) -> Table:
    if not TABLE_NAME.match(name):
        raise refuse(
            f"table name {name!r}: use lowercase letters, digits and '_' "
            "(it names the Parquet file)"
        )
    if not isinstance(raw, dict):
        raise refuse(f"[tables.{name}] must be a table with a `columns` table")
    unknown = sorted(set(raw) - set(TABLE_KEYS))
    if unknown:
        raise refuse(
            f"[tables.{name}]: unknown key {unknown[0]!r}; keys are {', '.join(TABLE_KEYS)}"
        )
    file = raw.get("file")
    if file is not None and (not isinstance(file, str) or not file or "/" in file):
        raise refuse(f"[tables.{name}] file: a file name such as {name}.csv, not a path")
    delimiter = raw.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise refuse(f'[tables.{name}] delimiter: one character such as "," or ";"')
    encoding = raw.get("encoding", "utf-8")
    if encoding not in CSV_ENCODINGS:
        raise refuse(
            f"[tables.{name}] encoding {encoding!r}: use one of {', '.join(CSV_ENCODINGS)}"
        )
    columns = raw.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise refuse(f"[tables.{name}] has no columns; give every column of its file a rule")
    parsed = tuple(_column(name, column, rule) for column, rule in columns.items())
    _check_outputs(name, parsed)
    return Table(name, parsed, file, delimiter, encoding)


def _column(table: str, name: str, raw: Any) -> Column:
    label = f"{table}.{name}"
    options = {"rule": raw} if isinstance(raw, str) else raw
    if not isinstance(options, dict) or not isinstance(options.get("rule"), str):
        raise refuse(f'{label}: write a rule name, or {{ rule = "...", ... }}')
    rule = options["rule"]
    if rule not in RULES:
        raise refuse(f"{label}: unknown rule {rule!r}; rules are {', '.join(RULES)}")
    extra = sorted(set(options) - {"rule", *OPTIONS[rule]})
    if extra:
        accepted = ", ".join(OPTIONS[rule]) or "none"
        raise refuse(
            f"{label}: option {extra[0]!r} does not apply to {rule}; its options: {accepted}"
        )
    output = _text(options, "as", label, default=name) or name
    column = Column(
        table=table,
        name=name,
        rule=rule,
        output=output,
        person=_text(options, "person", label),
        to=_text(options, "to", label),
        width=_integer(options, "width", label, minimum=1),
        top=_integer(options, "top", label, minimum=1),
        format=_text(options, "format", label),
        type=_text(options, "type", label),
        allow_identifiers=_flag(options, "allow_identifiers", label),
    )
    _check_rule(column)
    return column


def _check_rule(column: Column) -> None:
    label = column.label
    if column.rule == "date_shift" and not column.person:
        raise refuse(
            f'{label}: date_shift needs person = "<the column holding the person\'s identifier>"'
        )
    if column.rule == "generalise":
        if column.to not in GENERALISE_TO:
            raise refuse(
                f"{label}: generalise needs to = one of {', '.join(GENERALISE_TO)}, "
                f"not {column.to!r}"
            )
        if column.to == "band" and column.width is None:
            raise refuse(f'{label}: to = "band" needs width = N (years per band, e.g. 5)')
        if column.to != "band" and (column.width or column.top):
            raise refuse(f'{label}: width and top apply to to = "band" only')
        if column.top is not None and column.width and column.top % column.width:
            raise refuse(
                f"{label}: top ({column.top}) must be a multiple of width "
                f"({column.width}) so that bands do not overlap"
            )
        if column.format and column.to not in ("month", "year"):
            raise refuse(f'{label}: format applies to dates (to = "month" or "year")')
    if column.type is not None and column.type.upper() not in KEEP_TYPES:
        raise refuse(f"{label}: type {column.type!r}: use one of {', '.join(KEEP_TYPES)}")


def _check_outputs(table: str, columns: tuple[Column, ...]) -> None:
    seen: dict[str, str] = {}
    names = {c.name for c in columns}
    for column in columns:
        if column.person is not None and column.person not in names:
            raise refuse(
                f"{column.label}: person {column.person!r} is not a column of "
                f"[tables.{table}.columns]"
            )
        if column.rule == "drop":
            continue
        folded = column.output.lower()  # DuckDB and Parquet readers fold case
        if folded in seen:
            raise refuse(
                f"{table}: {column.name} and {seen[folded]} would both be written as "
                f'{column.output!r}; rename one with as = "..."'
            )
        seen[folded] = column.name
    if not seen:
        raise refuse(f"[tables.{table}] drops every column; drop the table instead")


def _max_days(raw: Any, tables: tuple[Table, ...]) -> int | None:
    shifted = [c.label for t in tables for c in t.columns if c.rule == "date_shift"]
    if raw is None:
        if shifted:
            raise refuse(
                f"{shifted[0]} is date-shifted: set [date_shift] max_days = N "
                f"(1 to {MAX_SHIFT_DAYS})"
            )
        return None
    if not isinstance(raw, dict) or set(raw) != {"max_days"}:
        raise refuse("[date_shift] takes one key: max_days = N")
    days = raw["max_days"]
    if type(days) is not int or not 1 <= days <= MAX_SHIFT_DAYS:
        raise refuse(f"[date_shift] max_days must be a whole number from 1 to {MAX_SHIFT_DAYS}")
    return days


def _checks(raw: Any, tables: tuple[Table, ...]) -> tuple[int, tuple[tuple[str, str], ...]]:
    if not isinstance(raw, dict) or set(raw) != {"k", "quasi_identifiers"}:
        raise refuse(
            'write [checks] with k = N and quasi_identifiers = ["table.column", ...] '
            "(an empty list says there are none)"
        )
    k, names = raw["k"], raw["quasi_identifiers"]
    if type(k) is not int or k < 2:
        raise refuse("[checks] k must be a whole number, at least 2")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise refuse('[checks] quasi_identifiers: a list of "table.column" strings')
    outputs = {(t.name, c.output) for t in tables for c in t.outputs}
    quasi = []
    for name in names:
        table, _, column = name.partition(".")
        if (table, column) not in outputs:
            raise refuse(
                f"[checks] quasi-identifier {name!r} is not an output column; name "
                "it as table.column after `as` (dropped columns cannot be one)"
            )
        if (table, column) in quasi:
            raise refuse(f"[checks] quasi-identifier {name!r} is listed twice")
        quasi.append((table, column))
    return k, tuple(quasi)


def _text(options: dict, key: str, label: str, default: str | None = None) -> str | None:
    value = options.get(key, default)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise refuse(f"{label}: {key} must be a non-empty string")
    return value


def _integer(options: dict, key: str, label: str, minimum: int) -> int | None:
    value = options.get(key)
    if value is not None and (type(value) is not int or value < minimum):
        raise refuse(f"{label}: {key} must be a whole number, at least {minimum}")
    return value


def _flag(options: dict, key: str, label: str) -> bool:
    value = options.get(key, False)
    if not isinstance(value, bool):
        raise refuse(f"{label}: {key} must be true or false")
    return value
