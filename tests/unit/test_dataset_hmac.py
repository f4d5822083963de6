"""HMAC-SHA256 written in DuckDB SQL equals Python's `hmac`, bit for bit; keys per purpose."""

from __future__ import annotations

import hashlib
import hmac
import random

import duckdb
import pytest

from jupyter_hds.datasets import rules
from jupyter_hds.datasets.keys import derive, key_id

VALUES = [
    "",
    "a",
    "é",
    "Ünïcødé ✓ 中文 🙂",
    "x" * 300,
    "000123",
    "line\nbreak",
    "quote'\"",
    "\x00nul",
]
KEYS = [b"k", b"Jefe", bytes(range(32)), b"\xff" * 64, b"\xaa" * 65, bytes(range(131)), b""]


@pytest.fixture
def con():
    con = duckdb.connect()
    rules.install(con)
    yield con
    con.close()


def sql_hmac(con, key: bytes, values: list[str | None]) -> list[str | None]:
    rules.set_key(con, "test", key)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE v AS SELECT unnest(?::VARCHAR[]) AS v, generate_subscripts(?::VARCHAR[], 1) AS i",
        [values, values],
    )
    rows = con.execute(
        "SELECT hds_hmac(getvariable('hds_test_ipad'), getvariable('hds_test_opad'), v) FROM v ORDER BY i"
    ).fetchall()
    return [row[0] for row in rows]


def python_hmac(key: bytes, value: str | None) -> str | None:
    return None if value is None else hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{len(k)}-bytes")
def test_sql_hmac_matches_python_for_every_value(con, key):
    values = [*VALUES, None]
    assert sql_hmac(con, key, values) == [python_hmac(key, v) for v in values]


def test_sql_hmac_matches_python_on_many_random_keys_and_values(con):
    rng = random.Random(14)  # noqa: S311 (test data)
    alphabet = "abcXYZ019 -_@.éèàçœ€中🙂\t"
    for _ in range(40):
        key = rng.randbytes(rng.choice([1, 16, 32, 63, 64, 65, 100, 200]))
        values = ["".join(rng.choices(alphabet, k=rng.randrange(0, 80))) for _ in range(250)]
        assert sql_hmac(con, key, values) == [python_hmac(key, v) for v in values]


def test_rfc_4231_test_case_2(con):
    # RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?"
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sql_hmac(con, b"Jefe", ["what do ya want for nothing?"]) == [expected]


def test_pseudonym_is_the_shortened_hmac_with_the_pseudonym_key(con):
    secret = bytes(range(32))
    rules.install(con, secret)
    values = ["000123", "é", "", "P00000001"]
    got = [con.execute("SELECT hds_pseudonym(?)", [v]).fetchone()[0] for v in values]
    key = derive(secret, "pseudonym")
    assert got == [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:20] for v in values]
    assert con.execute("SELECT hds_pseudonym(NULL)").fetchone()[0] is None


def test_purposes_get_unrelated_keys_and_the_key_id_reveals_neither():
    secret = bytes(range(32))
    pseudonym, shift = derive(secret, "pseudonym"), derive(secret, "date-shift")
    assert len({pseudonym, shift, secret}) == 3
    assert len(key_id(secret)) == 16
    assert key_id(secret) not in (secret.hex(), pseudonym.hex(), shift.hex())
    assert key_id(secret) != key_id(bytes(32))
    with pytest.raises(ValueError, match="unknown key purpose"):
        derive(secret, "other")
