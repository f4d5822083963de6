"""Values that look like direct identifiers: NIR with a valid key, e-mail, French phone, postcode.

Each detector is a DuckDB macro over text, so the import (and later the output airlock) runs
it over whole columns. Whole values are judged, except e-mail addresses, found inside text.
"""

from __future__ import annotations

import duckdb

DETECTORS = ("nir", "email", "phone", "postcode")

# NIR: sex (1, 2; 3, 4, 7, 8 for provisional numbers), year, month, département (2 digits,
# or 2A/2B), commune, order number, then a key: 97 - (the 13 characters as a number % 97),
# with 2A read as 19 and 2B as 18 (the rule of python-stdnum's stdnum/fr/nir.py).
NIR_SHAPE = "[1-478][0-9]{4}([0-9]{2}|2[AB])[0-9]{8}"
# French numbers: 0 then 9 digits, or +33 / 0033 (and the overseas +262, +590, +594, +596),
# optionally (0) or 0, then the 9 digits; spaces, dots, dashes and slashes between digits.
PHONE_SHAPE = r"(0|(\+|00)(33|262|590|594|596)(\(0\)|0)?)[1-9][0-9]{8}"
EMAIL_INSIDE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"

MACROS = [
    r"hds_compact(v) AS regexp_replace(upper(trim(v)), '[ .\-/]', '', 'g')",
    f"""hds_nir_key_ok(c) AS CASE WHEN regexp_full_match(c, '{NIR_SHAPE}')
        THEN 97 - TRY_CAST(replace(replace(substr(c, 1, 13), '2A', '19'), '2B', '18')
                           AS BIGINT) % 97 = TRY_CAST(substr(c, 14, 2) AS INTEGER)
        ELSE false END""",
    "hds_is_nir(v) AS coalesce(hds_nir_key_ok(hds_compact(v)), false)",
    f"hds_is_email(v) AS coalesce(regexp_matches(v, '{EMAIL_INSIDE}'), false)",
    f"hds_is_phone(v) AS coalesce(regexp_full_match(hds_compact(v), '{PHONE_SHAPE}'), false)",
    "hds_is_postcode(v) AS coalesce(regexp_full_match(trim(v), '[0-9]{5}'), false)",
]


def install(con: duckdb.DuckDBPyConnection) -> None:
    """The detectors as macros `hds_is_<kind>(text)` on `con`."""
    for macro in MACROS:
        con.execute(f"CREATE OR REPLACE TEMP MACRO {macro}")
