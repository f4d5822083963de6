"""Bad input to an import: one clear line, no value quoted, and nothing written."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from jupyter_hds.datasets.errors import ImportRefused
from jupyter_hds.datasets.importer import Importer, ImportRequest
from jupyter_hds.datasets.keys import ProjectKeys
from jupyter_hds.datasets.store import DatasetStore

SPEC = """
[checks]
k = 2
quasi_identifiers = []

[tables.people.columns]
id = "pseudonym"
name = "drop"
age = "keep"
"""
GOOD_ROWS = "id,name,age\n" + "".join(f"{i},Name{i},{20 + i % 50}\n" for i in range(50))


@pytest.fixture
def root(tmp_path):
    return tmp_path / "state"


def run(root, files, spec=SPEC, name="cohort", project="alpha"):
    importer = Importer(
        DatasetStore(root / "datasets"), ProjectKeys(root / "keys"), lambda p: p == "alpha"
    )
    return importer.run(ImportRequest(name, project, spec, tuple(files), "ann"))


def refused(root, files, **options) -> str:
    with pytest.raises(ImportRefused) as caught:
        run(root, files, **options)
    message = str(caught.value)
    assert "\n" not in message
    datasets = root / "datasets"
    leftovers = (
        [p for p in datasets.rglob("*") if ".locks" not in p.parts] if datasets.exists() else []
    )
    assert leftovers == []  # no version, no build folder, no empty dataset folder
    return message


def people(tmp_path, text: str | bytes, name: str = "people.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_the_good_file_imports(root, tmp_path):
    assert run(root, [people(tmp_path, GOOD_ROWS)]).version == 1


def test_unknown_rule(root, tmp_path):
    message = refused(root, [people(tmp_path, GOOD_ROWS)], spec=SPEC.replace('"keep"', '"mask"'))
    assert (
        message
        == "spec: people.age: unknown rule 'mask'; rules are drop, pseudonym, date_shift, generalise, keep"
    )


def test_a_spec_column_the_file_does_not_have(root, tmp_path):
    message = refused(root, [people(tmp_path, GOOD_ROWS)], spec=SPEC + 'sex = "keep"\n')
    assert (
        message == "spec: people.sex is not a column of people.csv; its columns are id, name, age"
    )


def test_a_column_the_spec_does_not_name_is_described_by_shapes_only(root, tmp_path):
    text = "id,name,age,email,born\n" + "".join(
        f"{i},Name{i},30,jean{i}@example.fr,1985-02-2{i % 9}\n" for i in range(20)
    )
    message = refused(root, [people(tmp_path, text)])
    assert message.startswith(
        "people.csv has columns the spec does not name, and the import names every column: "
    )
    assert "email (shapes: aaaa99@aaaaaaa.aa, aaaa9@aaaaaaa.aa)" in message
    assert "born (shapes: 9999-99-99)" in message
    assert "jean" not in message and "1985" not in message


def test_a_header_that_matches_nothing_is_not_echoed(root, tmp_path):
    message = refused(root, [people(tmp_path, "Dupont,185057800608491,42\n1,2,3\n")])
    assert (
        message
        == "people.csv: none of its header's names is a column of [tables.people.columns]; is its first line the header?"
    )


def test_a_semicolon_file_gets_the_delimiter_hint(root, tmp_path):
    message = refused(root, [people(tmp_path, GOOD_ROWS.replace(",", ";"))])
    assert "it may be ';'-separated: set delimiter = \";\"" in message


@pytest.mark.parametrize("where", [3, 30000])
def test_a_broken_row_names_its_line_and_not_its_values(root, tmp_path, where):
    lines = ["id,name,age"] + [f"{i},Name{i},30" for i in range(40000)]
    lines[where] = "77,Secretname,30,extra"
    message = refused(root, [people(tmp_path, "\n".join(lines) + "\n")])
    assert message == f"people.csv line {where + 1}: 4 fields where the header has 3"


def test_an_unclosed_quote_names_its_line(root, tmp_path):
    message = refused(root, [people(tmp_path, 'id,name,age\n1,"Dupont,30\n2,Martin,40\n')])
    assert (
        message == "people.csv line 2: a quoted field is not closed, or a quote sits inside a field"
    )


def test_a_value_unlike_its_column_far_down_the_file(root, tmp_path):
    lines = ["id,name,age"] + [f"{i},Name{i},30" for i in range(30000)] + ["5,Name,trente"]
    message = refused(root, [people(tmp_path, "\n".join(lines) + "\n")])
    assert message.startswith(
        "people.csv line 30002: column age has a value shaped aaaaaa, not BIGINT like its first rows"
    )
    assert "trente" not in message


def test_an_empty_file(root, tmp_path):
    assert refused(root, [people(tmp_path, "")]) == "people.csv is empty"


def test_a_header_without_rows(root, tmp_path):
    assert refused(root, [people(tmp_path, "id,name,age\n")]) == "people.csv has no rows"


def test_a_latin_1_file_says_which_encoding_to_set_and_then_imports(root, tmp_path):
    text = GOOD_ROWS.replace("Name3,", "Hélène,").encode("latin-1")
    message = refused(root, [people(tmp_path, text)])
    assert message == (
        "people.csv line 5 is not UTF-8 text; if the file is Latin-1 (ISO-8859-1, as older systems and Excel write it), "
        'set encoding = "latin-1" in [tables.people] (DuckDB reads utf-8, utf-16 and latin-1)'
    )
    spec = SPEC.replace(
        "[tables.people.columns]", '[tables.people]\nencoding = "latin-1"\n[tables.people.columns]'
    )
    assert run(root, [people(tmp_path, text)], spec=spec).version == 1


def test_a_utf_16_file_says_so_and_then_imports(root, tmp_path):
    text = GOOD_ROWS.encode("utf-16")
    assert (
        refused(root, [people(tmp_path, text)])
        == 'people.csv is UTF-16 text: set encoding = "utf-16" in [tables.people]'
    )
    spec = SPEC.replace(
        "[tables.people.columns]", '[tables.people]\nencoding = "utf-16"\n[tables.people.columns]'
    )
    assert run(root, [people(tmp_path, text)], spec=spec).version == 1


def test_a_parquet_file_that_is_not_parquet(root, tmp_path):
    message = refused(root, [people(tmp_path, b"PAR1 not really", name="people.parquet")])
    assert message.startswith("people.parquet: DuckDB cannot read it as Parquet (")


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "", ".", "..", "Cohort", "-x", "x" * 64, "name@2"]
)
def test_a_dataset_name_that_is_not_a_plain_name(root, tmp_path, name):
    message = refused(root, [people(tmp_path, GOOD_ROWS)], name=name)
    assert "cannot name a dataset: use lowercase letters, digits, '-' and '_'" in message
    assert not (root / "escape").exists()


def test_a_project_that_does_not_exist(root, tmp_path):
    assert (
        refused(root, [people(tmp_path, GOOD_ROWS)], project="gamma")
        == "there is no project 'gamma'; create it first"
    )


def test_files_and_tables_must_pair(root, tmp_path):
    good = people(tmp_path, GOOD_ROWS)
    other = people(tmp_path, GOOD_ROWS, name="visits.csv")
    assert (
        refused(root, [good, other])
        == "visits.csv is no table's file: add a [tables.NAME] for it (its columns and rules), or leave it out"
    )
    message = refused(root, [other])
    assert message.startswith(
        "table people: no file named people.csv or people.parquet among the files given"
    )
    assert (
        refused(root, [people(tmp_path, "x", name="people.xlsx")])
        == "people.xlsx: the import reads .csv and .parquet files"
    )


def test_a_failure_in_the_second_table_leaves_nothing_of_the_first(root, tmp_path):
    spec = (
        SPEC + '\n[tables.places.columns]\npostcode = { rule = "generalise", to = "departement" }\n'
    )
    places = people(tmp_path, "postcode\n75001\n98000\n", name="places.csv")
    message = refused(root, [people(tmp_path, GOOD_ROWS), places], spec=spec)
    assert (
        message == "places.postcode: 980xx is Monaco, a foreign country, not a French département"
    )


def test_a_second_import_of_the_same_dataset_at_once_is_refused_with_the_pid(root, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from jupyter_hds.datasets.store import DatasetStore
            with DatasetStore({str(root / "datasets")!r}).building("cohort"):
                print("building", flush=True)
                sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "building\n"
        with pytest.raises(ImportRefused) as caught:
            run(root, [people(tmp_path, GOOD_ROWS)])
        assert str(caught.value) == (
            f"dataset cohort: another import of it is running (pid {holder.pid}); wait for it to finish"
        )
        assert (
            run(root, [people(tmp_path, GOOD_ROWS)], name="other").version == 1
        )  # others may go on
    finally:
        holder.communicate("")
    assert run(root, [people(tmp_path, GOOD_ROWS)]).version == 1
    assert [p.name for p in (root / "datasets" / "cohort").iterdir()] == ["1"]
