"""DuckDB over the record: filter, page through and export entries, Parquet and JSON lines alike."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ..events import OUTCOMES as OUTCOME_CHOICES
from .entry import FIELDS
from .segments import list_segments

JSON_COLUMNS = (
    "{" + ", ".join(f"'{n}': '{'BIGINT' if n == 'seq' else 'VARCHAR'}'" for n in FIELDS) + "}"
)
COLUMNS = ", ".join(f'"{n}"' for n in FIELDS)
EMPTY = (
    "SELECT "
    + ", ".join(f'CAST(NULL AS {"BIGINT" if n == "seq" else "VARCHAR"}) AS "{n}"' for n in FIELDS)
    + " LIMIT 0"
)
NAME = re.compile(r"^[\w.:@/+-]{1,200}$")


@dataclass(frozen=True)
class Filters:
    """What an auditor asked for; every field optional. Dates are UTC days, both included."""

    person: str | None = None
    project: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, get: Callable[[str], str | None]) -> Filters:
        """Filters from request arguments; ValueError says which one is wrong and how to fix it."""
        values: dict[str, Any] = {}
        for name in ("person", "project", "action"):
            value = (get(name) or "").strip()
            if value and not NAME.match(value):
                raise ValueError(f"{name} {value!r}: use a name, without spaces or quotes")
            values[name] = value or None
        outcome = (get("outcome") or "").strip() or None
        if outcome and outcome not in OUTCOME_CHOICES:
            raise ValueError(f"outcome {outcome!r} must be one of {', '.join(OUTCOME_CHOICES)}")
        values["outcome"] = outcome
        for name in ("since", "until"):
            value = (get(name) or "").strip()
            try:
                values[name] = date.fromisoformat(value) if value else None
            except ValueError:
                raise ValueError(f"{name} {value!r}: write a day as YYYY-MM-DD") from None
        if values["since"] and values["until"] and values["since"] > values["until"]:
            raise ValueError("the period ends before it starts; swap 'since' and 'until'")
        return cls(**values)

    def where(self) -> tuple[str, list[Any]]:
        """A SQL condition and its parameters (never string-pasted values)."""
        clauses, params = ["TRUE"], []
        for name in ("person", "project", "outcome"):
            value = getattr(self, name)
            if value:
                clauses.append(f"{'actor' if name == 'person' else name} = ?")
                params.append(value)
        if self.action:
            clauses.append("(action = ? OR starts_with(action, ?))")
            params += [self.action, self.action + "."]
        if self.since:
            clauses.append("time >= ?")
            params.append(f"{self.since.isoformat()}T00:00:00")
        if self.until:
            clauses.append("time < ?")
            params.append(f"{(self.until + timedelta(days=1)).isoformat()}T00:00:00")
        return " AND ".join(clauses), params

    def as_args(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    newer: int | None  # pass as `after` for the newer page
    older: int | None  # pass as `before` for the older page


class AuditQuery:
    """Queries over whatever segments exist at the time of each query."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self._db = duckdb.connect()
        self._db.execute("SET parquet_metadata_cache = true")

    def source(self) -> str:
        """A SQL table expression of every entry: sealed Parquet plus open JSON lines."""
        segments = list_segments(self.directory)
        parts = []
        sealed = [str(s.path) for s in segments if s.sealed]
        lines = [str(s.path) for s in segments if not s.sealed]
        if sealed:
            parts.append(f"SELECT {COLUMNS} FROM read_parquet({_list(sealed)})")  # noqa: S608
        if lines:
            parts.append(
                f"SELECT {COLUMNS} FROM read_json({_list(lines)}, "  # noqa: S608
                f"format = 'newline_delimited', columns = {JSON_COLUMNS}, ignore_errors = true)"
            )
        return "(" + (" UNION ALL ".join(parts) or EMPTY) + ")"

    def _select(self, what: str, where: str, params: list[Any], tail: str = ""):
        """`SELECT what FROM <record> WHERE where tail` on a fresh cursor (one per thread).

        The SQL text is built from fixed fragments and the segments' paths only; every value
        an auditor typed goes in as a parameter. Retried once if a segment was sealed meanwhile.
        """
        for attempt in (1, 2):
            sql = f"SELECT {what} FROM {self.source()} WHERE {where} {tail}"  # noqa: S608
            try:
                return self._db.cursor().execute(sql, params)
            except duckdb.IOException:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _rows(
        self, where: str, params: list[Any], order: str, limit: int, start: int | None
    ) -> list[dict[str, Any]]:
        """Whole entries for the first `limit` matching seqs from `start`, in `order`.

        Looks in the segments nearest `start` first and widens (1, 4, 16, all): a page of
        recent entries reads a few files, not the year. Within a window it sorts numbers
        alone, then reads only the rows they name (the seq range lets DuckDB skip the other
        row groups).
        """
        firsts = [segment.first_seq for segment in list_segments(self.directory)]
        seqs: list[int] = []
        for span in (1, 4, 16, None):
            bound = _window(firsts, order, start, span)
            condition, extra = where, []
            if bound is not None:
                condition = f"{where} AND seq {'>=' if order == 'DESC' else '<'} ?"
                extra = [bound]
            tail = f"ORDER BY seq {order} LIMIT ?"
            cursor = self._select("seq", condition, [*params, *extra, limit], tail)
            seqs = [row[0] for row in cursor.fetchall()]
            if len(seqs) >= limit or bound is None:
                break
        if not seqs:
            return []
        chosen = "seq BETWEEN ? AND ? AND list_contains(?::BIGINT[], seq)"
        rows = self._select("*", chosen, [min(seqs), max(seqs), seqs], f"ORDER BY seq {order}")
        return self._dicts(rows)

    def page(
        self, filters: Filters, before: int | None = None, after: int | None = None, size: int = 50
    ) -> Page:
        """Up to `size` entries, newest first, older than `before` or newer than `after`."""
        where, params = filters.where()
        if after is not None:
            rows = self._rows(f"{where} AND seq > ?", [*params, after], "ASC", size + 1, after)
            more_newer, rows = len(rows) > size, rows[:size][::-1]
            more_older = bool(rows) and self._exists(where, params, "seq < ?", rows[-1]["seq"])
        else:
            condition, extra = (f"{where} AND seq < ?", [before]) if before else (where, [])
            rows = self._rows(condition, [*params, *extra], "DESC", size + 1, before)
            more_older, rows = len(rows) > size, rows[:size]
            more_newer = bool(rows and before) and self._exists(
                where, params, "seq > ?", rows[0]["seq"]
            )
        return Page(
            rows=rows,
            newer=rows[0]["seq"] if rows and more_newer else None,
            older=rows[-1]["seq"] if rows and more_older else None,
        )

    def _exists(self, where: str, params: list[Any], condition: str, seq: int) -> bool:
        cursor = self._select("1", f"{where} AND {condition}", [*params, seq], "LIMIT 1")
        return cursor.fetchone() is not None

    def count(self, filters: Filters) -> int:
        where, params = filters.where()
        return self._select("count(*)", where, params).fetchone()[0]

    def choices(self) -> dict[str, list[str]]:
        """Names seen in the record, for the filter form's suggestions."""
        found = {}
        for column in ("actor", "project", "action"):
            cursor = self._select(f"DISTINCT {column}", f"{column} IS NOT NULL", [],
                                  "ORDER BY 1 LIMIT 5000")  # fmt: skip
            found[column] = [row[0] for row in cursor.fetchall()]
        return found

    def export(self, filters: Filters, batch: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """Every matching entry, oldest first, in batches of rows (FIELDS order)."""
        where, params = filters.where()
        cursor = self._select(COLUMNS, where, params, "ORDER BY seq")
        while rows := cursor.fetchmany(batch):
            yield rows

    @staticmethod
    def _dicts(cursor) -> list[dict[str, Any]]:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _window(firsts: list[int], order: str, start: int | None, span: int | None) -> int | None:
    """The seq bound of the `span` segments nearest `start`; None when that is all of them.

    `firsts` are the segments' first seqs; `start` is the page's cursor (None: the newest).
    """
    if span is None or not firsts:
        return None
    here = max(bisect_right(firsts, start) - 1, 0) if start is not None else len(firsts) - 1
    if order == "DESC":
        return firsts[here - span + 1] if here - span + 1 > 0 else None
    return firsts[here + span] if here + span < len(firsts) else None


def _list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: text that would run as a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
