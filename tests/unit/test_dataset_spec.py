"""The import spec: one rule per column, options checked, every mistake named with its fix."""

from __future__ import annotations

import textwrap

import pytest

from jupyter_hds.datasets.errors import ImportRefused
from jupyter_hds.datasets.spec import parse_spec

GOOD = """
[date_shift]
max_days = 30

[checks]
k = 5
quasi_identifiers = ["patients.birth_year", "patients.sex"]

[tables.patients]
file = "people.csv"
delimiter = ";"
encoding = "latin-1"

[tables.patients.columns]
id = "pseudonym"
name = "drop"
sex = "keep"
birth = { rule = "generalise", to = "year", as = "birth_year" }
admitted = { rule = "date_shift", person = "id" }
age = { rule = "generalise", to = "band", width = 5, top = 90 }
postcode = { rule = "generalise", to = "departement" }
code = { rule = "keep", allow_identifiers = true, type = "varchar" }
"""


def test_a_good_spec_reads_into_tables_columns_and_checks():
    spec = parse_spec(GOOD)
    (table,) = spec.tables
    assert (table.name, table.file, table.delimiter, table.encoding) == (
        "patients",
        "people.csv",
        ";",
        "latin-1",
    )
    assert [c.rule for c in table.columns] == [
        "pseudonym",
        "drop",
        "keep",
        "generalise",
        "date_shift",
        "generalise",
        "generalise",
        "keep",
    ]
    assert (
        table.column("birth").output == "birth_year" and table.column("name") not in table.outputs
    )
    assert table.column("admitted").person == "id" and table.column("age").top == 90
    assert table.column("code").allow_identifiers and table.column("code").type == "varchar"
    assert (spec.k, spec.max_days) == (5, 30)
    assert spec.quasi_identifiers == (("patients", "birth_year"), ("patients", "sex"))
    assert spec.text == GOOD


def spec_with(columns: str, checks: str = "k = 5\nquasi_identifiers = []", extra: str = "") -> str:
    return f"{extra}\n[checks]\n{checks}\n[tables.t.columns]\n{textwrap.dedent(columns)}"


@pytest.mark.parametrize(
    ("case", "text", "message"),
    [
        ("not toml", "[tables", "spec: not valid TOML"),
        (
            "unknown section",
            spec_with('a = "keep"', extra="[options]\nx = 1"),
            "unknown section [options]",
        ),
        ("no tables", "[checks]\nk = 5\nquasi_identifiers = []", "name at least one table"),
        (
            "bad table name",
            spec_with('a = "keep"').replace("tables.t.", "tables.T-1."),
            "table name 'T-1'",
        ),
        (
            "unknown rule",
            spec_with('a = "hash"'),
            "t.a: unknown rule 'hash'; rules are drop, pseudonym, date_shift, generalise, keep",
        ),
        ("rule missing", spec_with("a = { to = 'year' }"), "t.a: write a rule name"),
        (
            "misspelt option",
            spec_with('a = { rule = "generalise", to = "band", widht = 5 }'),
            "option 'widht' does not apply to generalise",
        ),
        (
            "option of another rule",
            spec_with('a = { rule = "pseudonym", person = "b" }\nb = "keep"'),
            "option 'person' does not apply to pseudonym; its options: as",
        ),
        (
            "drop takes none",
            spec_with('a = { rule = "drop", as = "b" }\nc = "keep"'),
            "does not apply to drop; its options: none",
        ),
        (
            "date_shift without person",
            spec_with('a = "date_shift"', extra="[date_shift]\nmax_days = 3"),
            "date_shift needs person",
        ),
        (
            "person absent",
            spec_with(
                'a = { rule = "date_shift", person = "who" }', extra="[date_shift]\nmax_days = 3"
            ),
            "person 'who' is not a column",
        ),
        (
            "no max_days",
            spec_with('a = { rule = "date_shift", person = "b" }\nb = "pseudonym"'),
            "t.a is date-shifted: set [date_shift] max_days",
        ),
        (
            "max_days zero",
            spec_with('a = "keep"', extra="[date_shift]\nmax_days = 0"),
            "max_days must be a whole number from 1 to 3650",
        ),
        (
            "generalise to what",
            spec_with('a = { rule = "generalise", to = "decade" }'),
            "generalise needs to = one of month, year, band, departement, not 'decade'",
        ),
        (
            "band without width",
            spec_with('a = { rule = "generalise", to = "band" }'),
            'to = "band" needs width',
        ),
        (
            "width as bool",
            spec_with('a = { rule = "generalise", to = "band", width = true }'),
            "width must be a whole number, at least 1",
        ),
        (
            "width on a year",
            spec_with('a = { rule = "generalise", to = "year", width = 2 }'),
            'width and top apply to to = "band" only',
        ),
        (
            "top not a multiple",
            spec_with('a = { rule = "generalise", to = "band", width = 10, top = 95 }'),
            "top (95) must be a multiple of width (10)",
        ),
        (
            "format on a band",
            spec_with('a = { rule = "generalise", to = "band", width = 5, format = "%Y" }'),
            "format applies to dates",
        ),
        (
            "unknown type",
            spec_with('a = { rule = "keep", type = "BLOB" }'),
            "type 'BLOB': use one of",
        ),
        (
            "allow as text",
            spec_with('a = { rule = "keep", allow_identifiers = "yes" }'),
            "allow_identifiers must be true or false",
        ),
        (
            "two outputs one name",
            spec_with('a = "keep"\nb = { rule = "keep", as = "A" }'),
            "b and a would both be written as 'A'",
        ),
        ("all dropped", spec_with('a = "drop"'), "drops every column"),
        (
            "no columns",
            "[checks]\nk = 5\nquasi_identifiers = []\n[tables.t]\nfile = 'x.csv'",
            "[tables.t] has no columns",
        ),
        (
            "unknown table key",
            spec_with('a = "keep"').replace(
                "[tables.t.columns]", "[tables.t]\nsheet = 1\n[tables.t.columns]"
            ),
            "unknown key 'sheet'",
        ),
        (
            "file is a path",
            spec_with('a = "keep"').replace(
                "[tables.t.columns]", "[tables.t]\nfile = '../x.csv'\n[tables.t.columns]"
            ),
            "a file name such as t.csv, not a path",
        ),
        (
            "bad encoding",
            spec_with('a = "keep"').replace(
                "[tables.t.columns]", "[tables.t]\nencoding = 'cp1252'\n[tables.t.columns]"
            ),
            "encoding 'cp1252': use one of utf-8, utf-16, latin-1",
        ),
        (
            "bad delimiter",
            spec_with('a = "keep"').replace(
                "[tables.t.columns]", "[tables.t]\ndelimiter = ';;'\n[tables.t.columns]"
            ),
            "delimiter: one character",
        ),
        (
            "no checks",
            '[tables.t.columns]\na = "keep"',
            "write [checks] with k = N and quasi_identifiers",
        ),
        (
            "k of one",
            spec_with('a = "keep"', checks="k = 1\nquasi_identifiers = []"),
            "k must be a whole number, at least 2",
        ),
        (
            "qi unknown",
            spec_with('a = "keep"', checks='k = 5\nquasi_identifiers = ["t.b"]'),
            "quasi-identifier 't.b' is not an output column",
        ),
        (
            "qi dropped",
            spec_with('a = "keep"\nb = "drop"', checks='k = 5\nquasi_identifiers = ["t.b"]'),
            "quasi-identifier 't.b' is not an output column",
        ),
        (
            "qi by input name",
            spec_with(
                'a = { rule = "keep", as = "x" }', checks='k = 5\nquasi_identifiers = ["t.a"]'
            ),
            "name it as table.column after `as`",
        ),
        (
            "qi twice",
            spec_with('a = "keep"', checks='k = 5\nquasi_identifiers = ["t.a", "t.a"]'),
            "listed twice",
        ),
    ],
)
def test_mistakes_are_refused_with_what_to_write(case, text, message):
    with pytest.raises(ImportRefused) as caught:
        parse_spec(text)
    assert str(caught.value).startswith("spec: ")
    assert message in str(caught.value), case
