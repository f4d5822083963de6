"""The rules as DuckDB SQL: HMAC-SHA256 pseudonyms, per-person date shifts, generalisations.

DuckDB has `sha256` but no HMAC (the community `crypto` extension is a download), so HMAC
is written out as RFC 2104: `sha256(opad || unhex(sha256(ipad || value)))`, the pads made
here from the key and handed to DuckDB as session variables, never as SQL text.

HMAC is the costly part. For an identifier with several rows each (a person's), pseudonyms
and date offsets are computed once per distinct value (a temporary table) and joined; for
one unique to its row (a stay's number), in the row, which needs no table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import duckdb

from .errors import ImportRefused
from .keys import derive
from .spec import Column, Table

PSEUDONYM_HEX = 20  # 80 bits: no collision to expect below about 10^12 people
SHAPE_LENGTH = 24
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")  # fmt: skip
NUMBER_TYPES = (*INTEGER_TYPES, "FLOAT", "DOUBLE", "DECIMAL")
DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
              "TIMESTAMP WITH TIME ZONE")  # fmt: skip
TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%p", "%T", "%R", "%c", "%X", "%z", "%Z")

MACROS = [
    # RFC 2104 with SHA-256; ipad/opad are the 64-byte padded key XOR 0x36 / 0x5c (BLOBs).
    "hds_hmac(ipad, opad, v) AS sha256(opad || unhex(sha256(ipad || encode(v))))",
    "hds_pseudonym_hmac(v) AS hds_hmac(getvariable('hds_pseudonym_ipad'), "
    "getvariable('hds_pseudonym_opad'), v)",
    f"hds_pseudonym(v) AS substr(hds_pseudonym_hmac(v), 1, {PSEUDONYM_HEX})",
    "hds_shift_hmac(v) AS hds_hmac(getvariable('hds_shift_ipad'), "
    "getvariable('hds_shift_opad'), v)",
    # r uniform in [0, 2m): [0, m) -> -m..-1, [m, 2m) -> 1..m. Never 0.
    "hds_offset_of(r, m) AS CAST(r - m + CAST(r >= m AS BIGINT) AS INTEGER)",
    "hds_offset(h, m) AS hds_offset_of(CAST('0x' || substr(h, 1, 12) AS BIGINT) % (2 * m), m)",
    "hds_shift(v, m) AS hds_offset(hds_shift_hmac(v), m)",
    # A value's shape: letters A/a, digits 9, the rest kept; what messages show, never values.
    r"""hds_shape_of(v) AS regexp_replace(regexp_replace(regexp_replace(regexp_replace(v,
        '\p{Ll}', 'a', 'g'), '\p{Lu}', 'A', 'g'), '[\p{Lt}\p{Lm}\p{Lo}]', 'a', 'g'),
        '\p{Nd}', '9', 'g')""",
    f"""hds_shape(v) AS CASE WHEN length(v) > {SHAPE_LENGTH}
        THEN left(hds_shape_of(v), {SHAPE_LENGTH}) || '…' ELSE hds_shape_of(v) END""",
    # Postcode -> département; a value that has none stops the import with its shape.
    """hds_departement(pc, label) AS CASE
        WHEN pc IS NULL THEN NULL
        WHEN NOT regexp_full_match(pc, '[0-9]{5}') THEN error('hds: ' || label
            || ': a value shaped ' || hds_shape(pc) || ' is not a 5-digit French postcode')
        WHEN pc BETWEEN '20000' AND '20190' THEN '2A'
        WHEN pc BETWEEN '20200' AND '20620' THEN '2B'
        WHEN pc LIKE '20%' THEN error('hds: ' || label || ': a 20xxx value is outside '
            || 'Corsica''s postcodes (20000-20190 is 2A, 20200-20620 is 2B)')
        WHEN pc LIKE '980%' THEN error('hds: ' || label || ': 980xx is Monaco, a foreign '
            || 'country, not a French département')
        WHEN substr(pc, 1, 3) IN ('971', '972', '973', '974', '975', '976', '984', '986', '987',
            '988') THEN substr(pc, 1, 3)
        WHEN substr(pc, 1, 2) BETWEEN '01' AND '95' THEN substr(pc, 1, 2)
        ELSE error('hds: ' || label || ': a value starting with ' || substr(pc, 1, 3)
            || ' is not the postcode of a French département')
        END""",
]


def ident(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """RFC 2104's inner and outer pads for SHA-256 (64-byte blocks)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def install(con: duckdb.DuckDBPyConnection, secret: bytes | None = None) -> None:
    """The rules' macros on `con`; with `secret`, the project's derived keys as variables."""
    for macro in MACROS:
        con.execute(f"CREATE OR REPLACE TEMP MACRO {macro}")
    if secret is not None:
        set_key(con, "pseudonym", derive(secret, "pseudonym"))
        set_key(con, "shift", derive(secret, "date-shift"))


def set_key(con: duckdb.DuckDBPyConnection, name: str, key: bytes) -> None:
    """Session variables hds_<name>_ipad/opad for `key`, passed as parameters, not SQL."""
    inner, outer = hmac_pads(key)
    con.execute(f"SET VARIABLE hds_{name}_ipad = unhex(?)", [inner.hex()])
    con.execute(f"SET VARIABLE hds_{name}_opad = unhex(?)", [outer.hex()])


def shape(con: duckdb.DuckDBPyConnection, value: str) -> str:
    (shaped,) = con.execute("SELECT hds_shape(?)", [value]).fetchone() or ("",)
    return shaped


def read_types(table: Table) -> dict[str, str]:
    """CSV columns read with a fixed type rather than the reader's guess from the first rows.

    Identifiers and postcodes are text (a guessed integer would lose "000123"'s zeros and
    change its pseudonym); dropped columns too, so an odd value there cannot stop the import.
    """
    persons = {c.person for c in table.columns if c.person}
    types = {}
    for column in table.columns:
        if (
            column.rule in ("drop", "pseudonym")
            or column.name in persons
            or column.to == "departement"
            or column.format
        ):
            types[column.name] = "VARCHAR"
        elif column.type:
            types[column.name] = column.type.upper()
    return types


def hashed(table: Table) -> dict[str, tuple[bool, bool]]:
    """Columns whose values are HMAC'd: name -> (needs a pseudonym, needs a date offset)."""
    persons = {c.person for c in table.columns if c.rule == "date_shift"}
    names = [c.name for c in table.columns if c.rule == "pseudonym" or c.name in persons]
    pseudonymised = {c.name for c in table.columns if c.rule == "pseudonym"}
    return {name: (name in pseudonymised, name in persons) for name in names}


def ids_table_sql(
    view: str, column: str, pseudonym: bool, shift: bool, max_days: int | None
) -> str:
    """The distinct values of `column` in `view` with their pseudonym and/or date offset."""
    hmacs = [
        "hds_pseudonym_hmac(raw) AS h_p" if pseudonym else "NULL AS h_p",
        "hds_shift_hmac(raw) AS h_s" if shift else "NULL AS h_s",
    ]
    outputs = ["raw"]
    if pseudonym:
        outputs.append(f"substr(h_p, 1, {PSEUDONYM_HEX}) AS pseudonym")
    if shift:
        outputs.append(f"hds_offset(h_s, {int(max_days or 0)}) AS shift")
    distinct = (
        f"SELECT DISTINCT CAST({ident(column)} AS VARCHAR) AS raw FROM {view} "  # noqa: S608 (quoted)
        f"WHERE {ident(column)} IS NOT NULL"
    )
    inner = f"SELECT raw, {', '.join(hmacs)} FROM ({distinct})"  # noqa: S608 (quoted)
    return f"SELECT {', '.join(outputs)} FROM ({inner})"  # noqa: S608 (quoted)


def hash_sql(column: str, alias: str | None, max_days: int | None) -> tuple[str, str]:
    """SQL of the pseudonym and the date offset of `column`'s value in each row: read from
    the ids table joined as `alias`, or (no alias) computed in the row."""
    if alias:
        return f"{alias}.pseudonym", f"{alias}.shift"
    value = f"CAST(s.{ident(column)} AS VARCHAR)"
    return f"hds_pseudonym({value})", f"hds_shift({value}, {int(max_days or 0)})"


def repeats_sql(view: str, column: str, sample: int) -> str:
    """Whether a value of `column` repeats among the first `sample` rows."""
    first = f"SELECT CAST({ident(column)} AS VARCHAR) AS v FROM {view} LIMIT {int(sample)}"  # noqa: S608 (quoted)
    return f"SELECT count(DISTINCT v) < count(v) FROM ({first})"  # noqa: S608


def select_list(
    table: Table, types: dict[str, str], hashes: dict[str, tuple[str, str]]
) -> list[str]:
    """The output columns of `table` as SQL over `s` (its source); `hashes` from hash_sql."""
    return [
        f"{expression(column, types[column.name], hashes)} AS {ident(column.output)}"
        for column in table.outputs
    ]


def expression(column: Column, kind: str, hashes: dict[str, tuple[str, str]]) -> str:
    """One column's rule as SQL; ImportRefused when the column's type does not suit it."""
    value = f"s.{ident(column.name)}"
    base = kind.split("(")[0].upper()
    if column.rule == "keep":
        return f"CAST({value} AS {column.type.upper()})" if column.type else value
    if column.rule == "pseudonym":
        return hashes[column.name][0]
    if column.rule == "date_shift":
        date = _as_date(column, value, base)
        offset = hashes[str(column.person)][1]
        return f"({date} + {offset})" if _is_date(column, base) else f"({date} + to_days({offset}))"
    if column.to == "month":
        return f"strftime({_as_date(column, value, base)}, '%Y-%m')"
    if column.to == "year":
        return f"CAST(year({_as_date(column, value, base)}) AS INTEGER)"
    if column.to == "band":
        return _band(column, value, base)
    return _departement(column, value, base)


def _as_date(column: Column, value: str, base: str) -> str:
    if column.format:
        parsed = f"try_strptime({value}, {literal(column.format)})"
        if not any(d in column.format for d in TIME_DIRECTIVES):
            parsed = f"CAST({parsed} AS DATE)"
        message = literal(f"hds: {column.label}: a value shaped ") + f" || hds_shape({value}) || "
        message += literal(f" does not match format {column.format}")
        return f"CASE WHEN {value} IS NULL THEN NULL ELSE coalesce({parsed}, error({message})) END"
    if base not in DATE_TYPES:
        raise ImportRefused(
            f'{column.label} is read as {base}, not as dates: set format = "%d/%m/%Y" '
            "(or the strptime format its values have) on it in the spec"
        )
    return value


def _is_date(column: Column, base: str) -> bool:
    if column.format:
        return not any(d in column.format for d in TIME_DIRECTIVES)
    return base == "DATE"


def _band(column: Column, value: str, base: str) -> str:
    if base not in NUMBER_TYPES:
        raise ImportRefused(
            f'{column.label} is read as {base}: to = "band" needs numbers (ages); '
            "fix the values that are not numbers"
        )
    width = int(column.width or 1)
    low = f"CAST(floor({value} / {width}) * {width} AS BIGINT)"
    top = f"WHEN {value} >= {column.top} THEN '{column.top}+' " if column.top else ""
    negative = literal(f"hds: {column.label}: a negative value cannot be put in a band")
    return (
        f"CASE WHEN {value} IS NULL THEN NULL WHEN {value} < 0 THEN error({negative}) {top}"
        f"ELSE CAST({low} AS VARCHAR) || '-' || CAST({low} + {width - 1} AS VARCHAR) END"
    )


def _departement(column: Column, value: str, base: str) -> str:
    if base in INTEGER_TYPES:
        text = f"lpad(CAST({value} AS VARCHAR), 5, '0')"
    elif base == "VARCHAR":
        text = f"trim({value})"
    else:
        raise ImportRefused(f"{column.label} is read as {base}: postcodes must be text")
    return f"hds_departement({text}, {literal(column.label)})"


def quoted(names: Iterable[str]) -> str:
    return ", ".join(ident(n) for n in names)
