"""The identifier detectors, with near misses, and when a kept column is flagged."""

from __future__ import annotations

import duckdb
import pytest
from faker import Faker

from jupyter_hds.datasets import checks, identifiers, rules
from jupyter_hds.datasets.spec import Column, Table


def nir_key(first13: str) -> str:
    """The NIR key as INSEE defines it (written here independently of the SQL)."""
    number = first13.replace("2A", "19").replace("2B", "18")
    return f"{97 - int(number) % 97:02d}"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    rules.install(con)
    identifiers.install(con)
    yield con
    con.close()


def detect(con, kind: str, value) -> bool:
    return con.execute(f"SELECT hds_is_{kind}(?)", [value]).fetchone()[0]


VALID_NIRS = [
    "185057800608491",
    "1 85 05 78 006 084 91",
    "1.85.05.78.006.084.91",
    "285052A00608482",  # Corse-du-Sud: 2A counts as 19
    "285052a00608482",
    "185052B12345660",  # Haute-Corse: 2B counts as 18
    "100000000000047",
    "799107512300110",  # a temporary number (sex digit 7)
    "2990199123456" + nir_key("2990199123456"),  # born abroad (99)
]
NEAR_MISS_NIRS = [
    "185057800608492",  # key off by one
    "18505780060849",  # 14 digits
    "1850578006084910",  # 16 digits
    "5850578006084" + nir_key("5850578006084"),  # sex digit 5 does not exist
    "285052A006084" + nir_key("2850520006084"),  # 2A keyed as if it were 20
    "285052C006084" + nir_key("2850519006084"),  # no département 2C
    "2850519A06084" + nir_key("2850519006084"),  # a letter outside the département
    "1850578006084",  # no key at all
    "",
    None,
]


@pytest.mark.parametrize("value", VALID_NIRS)
def test_nir_with_a_valid_key_is_found(con, value):
    assert detect(con, "nir", value)


@pytest.mark.parametrize("value", NEAR_MISS_NIRS)
def test_nir_near_misses_are_not(con, value):
    assert not detect(con, "nir", value)


def test_every_nir_faker_makes_is_found(con):
    fake = Faker("fr_FR")
    fake.seed_instance(14)
    numbers = [fake.ssn() for _ in range(2000)]
    assert {n[5:7] for n in numbers} >= {"2A", "2B"}  # the Corsican rule is exercised
    missed = [n for n in numbers if not detect(con, "nir", n)]
    assert missed == []


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("jean.dupont@example.fr", True), ("a+b@sub.domain.org", True),
        ("écrire à x_y@hopital-paris.fr svp", True), ("JEAN@EXAMPLE.COM", True),
        ("jean.dupont@", False), ("@example.fr", False), ("jean@localhost", False),
        ("a@b.c", False), ("jean(at)example.fr", False), ("2 @ 3", False), (None, False),
    ],
)  # fmt: skip
def test_email(con, value, found):
    assert detect(con, "email", value) is found


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("0612345678", True), ("06 12 34 56 78", True), ("06.12.34.56.78", True),
        ("06-12-34-56-78", True), ("06/12/34/56/78", True), ("+33 6 12 34 56 78", True),
        ("+33612345678", True), ("+33 (0)6 12 34 56 78", True), ("+33 06 12 34 56 78", True),
        ("0033 6 12 34 56 78", True), ("01 23 45 67 89", True), ("+262 692 12 34 56", True),
        ("061234567", False), ("06123456789", False), ("0012345678", False),
        ("+44 20 7946 0958", False), ("6 12 34 56 78", False), ("1234567890", False),
        ("12/03/2024", False), ("+33 6 12 34 56", False), (None, False),
    ],
)  # fmt: skip
def test_french_phone_numbers_in_their_usual_spellings(con, value, found):
    assert detect(con, "phone", value) is found


def test_every_phone_number_faker_makes_is_found(con):
    fake = Faker("fr_FR")
    fake.seed_instance(14)
    numbers = [fake.phone_number() for _ in range(500)]
    assert [n for n in numbers if not detect(con, "phone", n)] == []


@pytest.mark.parametrize(
    ("value", "found"),
    [("75001", True), (" 01000 ", True), ("7500", False), ("750011", False), ("75 001", False),
     ("2A004", False), (None, False)],
)  # fmt: skip
def test_postcode(con, value, found):
    assert detect(con, "postcode", value) is found


def findings(con, tmp_path, columns: dict[str, str], rows: list[tuple], allowed=()):
    """Write `rows` (columns: name -> SQL type) as Parquet, then run the identifier check."""
    names = list(columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE t ({', '.join(f'{n} {k}' for n, k in columns.items())})"
    )
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in names)})", rows)
    path = tmp_path / "t.parquet"
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    table = Table(
        "t", tuple(Column("t", n, "keep", n, allow_identifiers=n in allowed) for n in names)
    )
    return {f["column"]: f for f in checks.identifier_findings(con, table, path)}


def test_one_email_or_nir_in_a_kept_column_flags_it(con, tmp_path):
    rows = [("ok", None, 1.5, 20)] * 99 + [("from a@b.fr", 185057800608491, 2.5, 30)]
    found = findings(
        con,
        tmp_path,
        {"comment": "VARCHAR", "number": "BIGINT", "value": "DOUBLE", "age": "INTEGER"},
        rows,
    )
    assert found["t.comment"]["looks_like"] == {"email": 1}
    assert found["t.number"]["looks_like"] == {"nir": 1}  # a NIR read as a number is still one
    assert set(found) == {"t.comment", "t.number"}  # decimals and ages are not scanned away
    assert not found["t.comment"]["allowed"]


def test_postcodes_flag_a_column_only_when_most_values_are_five_digits(con, tmp_path):
    few = [("75001",)] * 4 + [("hello",)] * 6
    assert findings(con, tmp_path, {"code": "VARCHAR"}, few) == {}
    most = [("75001",)] * 5 + [("hello",)] * 5
    assert findings(con, tmp_path, {"code": "VARCHAR"}, most)["t.code"]["looks_like"] == {
        "postcode": 5
    }


def test_allow_identifiers_lets_a_flagged_column_pass_and_records_it(con, tmp_path):
    found = findings(con, tmp_path, {"code": "VARCHAR"}, [("0612345678",)], allowed=("code",))
    assert found["t.code"]["allowed"] is True
    report = {"identifiers": list(found.values()), "k_anonymity": {"below_k": []}}
    assert checks.refusal(report, force=False) is None
    found["t.code"]["allowed"] = False
    assert "t.code still looks like a direct identifier (1 phone of 1 values)" in checks.refusal(
        report, force=True
    )
