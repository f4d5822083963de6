"""The generalisation rules as SQL: postcode to département, age bands, months and years."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from jupyter_hds.datasets import rules
from jupyter_hds.datasets.errors import ImportRefused
from jupyter_hds.datasets.spec import Column


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    rules.install(con)
    yield con
    con.close()


def apply(con, column: Column, value, kind: str):
    expression = rules.expression(column, kind, {})
    return con.execute(
        f"SELECT {expression} FROM (SELECT CAST(? AS {kind}) AS {rules.ident(column.name)}) s",
        [value],
    ).fetchone()[0]


def generalise(to: str, **options) -> Column:
    return Column(table="t", name="c", rule="generalise", output="c", to=to, **options)


@pytest.mark.parametrize(
    ("postcode", "departement"),
    [
        ("75001", "75"), ("01000", "01"), ("13001", "13"), ("95880", "95"),
        # Corsica: 20000-20190 is Corse-du-Sud, 20200-20620 Haute-Corse.
        ("20000", "2A"), ("20090", "2A"), ("20190", "2A"), ("20200", "2B"), ("20620", "2B"),
        # Overseas: the first three digits (Saint-Barthélemy and Saint-Martin use 971xx).
        ("97133", "971"), ("97150", "971"), ("97200", "972"), ("97300", "973"), ("97400", "974"),
        ("97500", "975"), ("97600", "976"), ("98600", "986"), ("98714", "987"), ("98799", "987"),
        ("98800", "988"), (" 69002 ", "69"), (None, None),
    ],
)  # fmt: skip
def test_postcode_to_departement(con, postcode, departement):
    assert apply(con, generalise("departement"), postcode, "VARCHAR") == departement


def test_postcode_read_as_a_number_gets_its_leading_zero_back(con):
    assert apply(con, generalise("departement"), 1000, "BIGINT") == "01"
    assert apply(con, generalise("departement"), 20100, "BIGINT") == "2A"


@pytest.mark.parametrize(
    ("postcode", "reason"),
    [
        ("98000", "Monaco, a foreign country"),
        ("20191", "outside Corsica's postcodes"),
        ("20199", "outside Corsica's postcodes"),
        ("20621", "outside Corsica's postcodes"),
        ("20999", "outside Corsica's postcodes"),
        ("00100", "is not the postcode of a French département"),
        ("96100", "is not the postcode of a French département"),
        ("99100", "is not the postcode of a French département"),
        ("97000", "is not the postcode of a French département"),
        ("97800", "is not the postcode of a French département"),
        ("98500", "is not the postcode of a French département"),
        ("7500", "shaped 9999 is not a 5-digit French postcode"),
        ("750011", "shaped 999999 is not a 5-digit French postcode"),
        ("A7500", "shaped A9999 is not a 5-digit French postcode"),
        ("75 001", "shaped 99 999 is not a 5-digit French postcode"),
    ],
)
def test_postcodes_without_a_departement_stop_the_import_without_their_value(con, postcode, reason):
    with pytest.raises(duckdb.Error) as caught:
        apply(con, generalise("departement"), postcode, "VARCHAR")
    message = str(caught.value)
    assert "hds: t.c: " in message and reason in message
    assert postcode.strip() not in message.replace("980xx", "").replace("20xxx", "")


@pytest.mark.parametrize(
    ("age", "width", "top", "band"),
    [
        (0, 10, None, "0-9"), (9, 10, None, "0-9"), (10, 10, None, "10-19"), (89, 10, 90, "80-89"),
        (90, 10, 90, "90+"), (104, 10, 90, "90+"), (42, 5, None, "40-44"), (45, 5, None, "45-49"),
        (42.7, 10, None, "40-49"), (None, 10, 90, None), (120, 10, None, "120-129"),
    ],
)  # fmt: skip
def test_age_bands(con, age, width, top, band):
    kind = "DOUBLE" if isinstance(age, float) else "INTEGER"
    assert apply(con, generalise("band", width=width, top=top), age, kind) == band


def test_a_negative_age_stops_the_import(con):
    with pytest.raises(duckdb.Error, match="hds: t.c: a negative value cannot be put in a band"):
        apply(con, generalise("band", width=10), -1, "INTEGER")


def test_bands_need_numbers():
    with pytest.raises(ImportRefused, match='t.c is read as VARCHAR: to = "band" needs numbers'):
        rules.expression(generalise("band", width=10), "VARCHAR", {})


@pytest.mark.parametrize(
    ("value", "kind", "month", "year"),
    [
        (dt.date(2024, 2, 29), "DATE", "2024-02", 2024),
        (dt.date(1999, 12, 31), "DATE", "1999-12", 1999),
        (dt.datetime(2024, 1, 1, 0, 0, 1), "TIMESTAMP", "2024-01", 2024),
        (None, "DATE", None, None),
    ],
)
def test_dates_to_month_and_year(con, value, kind, month, year):
    assert apply(con, generalise("month"), value, kind) == month
    assert apply(con, generalise("year"), value, kind) == year


def test_dates_written_as_text_are_read_with_their_format(con):
    column = generalise("month", format="%d/%m/%Y")
    assert apply(con, column, "29/02/2024", "VARCHAR") == "2024-02"
    assert apply(con, generalise("year", format="%d/%m/%Y"), None, "VARCHAR") is None
    with pytest.raises(duckdb.Error) as caught:
        apply(con, column, "2024-13-45", "VARCHAR")
    assert "hds: t.c: a value shaped 9999-99-99 does not match format %d/%m/%Y" in str(caught.value)
    assert "2024-13-45" not in str(caught.value)


def test_text_dates_without_a_format_are_refused_with_the_fix():
    with pytest.raises(
        ImportRefused, match='t.c is read as VARCHAR, not as dates: set format = "%d/%m/%Y"'
    ):
        rules.expression(generalise("year"), "VARCHAR", {})


@pytest.mark.parametrize(
    ("value", "shape"),
    [("Dupont", "Aaaaaa"), ("Élodie-Ñu", "Aaaaaa-Aa"), ("1985-02-28", "9999-99-99"), ("jean.d@x.fr", "aaaa.a@a.aa"),
     ("", ""), ("x" * 30, "a" * 24 + "…")],
)  # fmt: skip
def test_shapes_show_the_form_of_a_value_never_its_letters_or_digits(con, value, shape):
    assert rules.shape(con, value) == shape
