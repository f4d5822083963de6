"""The automatic checks on real small files: tables, identifiers, figures, notebooks, text."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import duckdb
import pytest

from jupyter_hds.airlock import checks, preview
from jupyter_hds.airlock.checks import Context, check_file, dataset_identifiers
from jupyter_hds.policy.airlock import DisclosureRules

PSEUDONYM = re.compile(r"^[0-9a-f]{20}$")
RULES = DisclosureRules(threshold=10, rounding=0, approvals=2)


def context(rules=RULES, dataset=()):
    return Context(rules, PSEUDONYM, tuple(dataset))


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def codes(result) -> list[tuple[str, str | None]]:
    return [(f.code, f.column) for f in result.flags]


def parquet(tmp_path: Path, name: str, sql: str) -> Path:
    path = tmp_path / name
    con = duckdb.connect()
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


# ---------------------------------------------------------------------------- tables


def test_a_table_with_a_count_of_3_is_flagged_with_its_statistics(tmp_path):
    path = write(tmp_path, "t.csv", "age_band,sex,count\n40-44,F,12\n40-44,M,3\n45-49,F,0\n"
                 "45-49,M,25\n")  # fmt: skip
    result = check_file(path, "work/t.csv", context())
    assert result.kind == "table" and not result.careful_read
    assert result.summary["rows"] == 4
    count = next(c for c in result.summary["columns"] if c["name"] == "count")
    assert (count["min"], count["min_nonzero"], count["max"]) == (0, 3, 25)
    assert count["small_counts"] == [[3, 1]]
    assert codes(result) == [("small-count", "count")]
    assert "1 cell(s) with a count from 1 to 10 (3)" in result.flags[0].message


def test_every_small_count_is_listed_and_the_threshold_is_the_projects(tmp_path):
    path = write(tmp_path, "t.tsv", "group\tn\na\t1\nb\t7\nc\t7\nd\t11\ne\t12.5\n")
    result = check_file(path, "shared/t.tsv", context(DisclosureRules(11, 0, 2)))
    n = next(c for c in result.summary["columns"] if c["name"] == "n")
    assert n["small_counts"] == [[1, 1], [7, 2], [11, 1]]  # 12.5 is not a count
    assert check_file(path, "shared/t.tsv", context(DisclosureRules(0, 0, 2))).flags == []


def test_redaction_markers_keep_a_column_numeric(tmp_path):
    path = write(tmp_path, "t.csv", "band,n\na,<8\nb,15\nc,4\n")
    result = check_file(path, "work/t.csv", context())
    assert codes(result) == [("small-count", "n")]


def test_counts_not_rounded_are_flagged_when_rounding_is_expected(tmp_path):
    path = write(tmp_path, "t.csv", "band,n\na,15\nb,20\nc,23\n")
    result = check_file(path, "work/t.csv", context(DisclosureRules(10, 5, 2)))
    assert codes(result) == [("not-rounded", "n")]
    assert "1 whole number(s) not rounded to a multiple of 5" in result.flags[0].message


def test_identifier_columns_are_flagged(tmp_path):
    path = write(tmp_path, "ids.csv", "pseudo_id,birth_date,postcode,visit_month,n\n"
                 "0123456789abcdef0123,1950-03-14,75011,2024-01-01,20\n"
                 "fedcba98765432100123,1962-11-02,2A004,2024-02-01,30\n")  # fmt: skip
    result = check_file(path, "work/ids.csv", context())
    flagged = {c: f.message for f, (_, c) in zip(result.flags, codes(result), strict=True)}
    assert "pseudonyms" in flagged["pseudo_id"]
    assert "dates of birth" in flagged["birth_date"]
    assert "postcodes" in flagged["postcode"]
    assert "visit_month" not in flagged  # the first of each month: monthly, not a full date
    assert "n" not in flagged


def test_full_dates_are_flagged(tmp_path):
    path = write(tmp_path, "d.csv", "admitted,n\n2024-01-03,20\n2024-01-17,30\n")
    assert codes(check_file(path, "work/d.csv", context())) == [("identifier", "admitted")]


def test_parquet_tables_are_read_too(tmp_path):
    path = parquet(tmp_path, "p.parquet", "SELECT * FROM (VALUES ('F', 2), ('M', 40)) v(sex, n)")
    result = check_file(path, "work/p.parquet", context())
    assert result.summary["rows"] == 2 and codes(result) == [("small-count", "n")]


def test_values_found_in_the_dataset_are_flagged(tmp_path):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    parquet(dataset, "patients.parquet",
            "SELECT substr(sha256(i::VARCHAR), 1, 16) AS pseudo_id, i % 2 AS sex "
            "FROM range(200) t(i)")  # fmt: skip
    found = dataset_identifiers(dataset, PSEUDONYM)
    assert [(c.label, c.why) for c in found] == [("patients.pseudo_id", "pseudonyms")]
    con = duckdb.connect()
    leaked = con.execute("SELECT substr(sha256('7'), 1, 16)").fetchone()[0]
    path = write(tmp_path, "l.csv", f"who,n\n{leaked},20\nsomeone,30\n")
    result = check_file(path, "work/l.csv", context(dataset=found))
    assert ("dataset-values", "who") in codes(result)
    assert "1 value(s) occur in the dataset's patients.pseudo_id" in result.flags[-1].message


def test_a_file_that_is_not_a_table_needs_a_careful_read(tmp_path):
    path = write(tmp_path, "t.parquet", b"not parquet at all")
    result = check_file(path, "work/t.parquet", context())
    assert result.careful_read and codes(result) == [("unreadable", None)]


def test_the_preview_highlights_what_the_checks_flag(tmp_path):
    path = write(
        tmp_path, "t.csv", "pseudo_id,n\n0123456789abcdef0123,12\nfedcba98765432100123,3\n"
    )
    check = check_file(path, "work/t.csv", context()).to_dict()
    shown = preview.preview(path, "work/t.csv", check, 10, 0)
    assert shown.total == 2
    assert shown.rows == [
        [("0123456789abcdef0123", "identifier"), ("12", "")],
        [("fedcba98765432100123", "identifier"), ("3", "small-count")],
    ]


# ------------------------------------------------------------------ images and PDFs


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b"")  # fmt: skip


def test_images_report_their_dimensions(tmp_path):
    result = check_file(write(tmp_path, "f.png", png(64, 32)), "work/f.png", context())
    assert (result.kind, result.summary["width"], result.summary["height"]) == ("image", 64, 32)
    assert not result.flags and not result.careful_read
    jpeg = b"\xff\xd8\xff\xe0\x00\x04\x00\x00\xff\xc0\x00\x0b\x08\x00\x30\x00\x50\x01\x01\x11\x00"
    result = check_file(write(tmp_path, "f.jpg", jpeg), "work/f.jpg", context())
    assert (result.summary["width"], result.summary["height"]) == (80, 48)
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><text>n=3</text></svg>'
    result = check_file(write(tmp_path, "f.svg", svg), "work/f.svg", context())
    assert (result.summary["width"], result.summary["text_elements"]) == (300, 1)


def test_an_svg_with_a_script_is_flagged(tmp_path):
    svg = '<svg viewBox="0 0 10 20"><script>alert(1)</script></svg>'
    result = check_file(write(tmp_path, "s.svg", svg), "work/s.svg", context())
    assert (result.summary["height"], codes(result)) == (20, [("script", None)])


def test_a_pdf_reports_its_pages(tmp_path):
    pdf = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
           b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n"
           b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
           b"4 0 obj << /Type/Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")  # fmt: skip
    result = check_file(write(tmp_path, "r.pdf", pdf), "work/r.pdf", context())
    assert (result.kind, result.summary["pages"], result.flags) == ("pdf", 2, [])


# ------------------------------------------------------------------- notebooks, text


def test_notebook_outputs_holding_tables_are_flagged(tmp_path):
    notebook = {"cells": [
        {"cell_type": "code", "source": "df", "outputs": [
            {"output_type": "execute_result", "data": {"text/plain": "   n\n0  3",
                                                       "text/html": "<table><tr><td>3</td></tr></table>"}}]},
        {"cell_type": "code", "source": "plot()", "outputs": [
            {"output_type": "display_data", "data": {"image/png": "iVBOR"}}]},
        {"cell_type": "markdown", "source": "text"},
    ]}  # fmt: skip
    path = write(tmp_path, "a.ipynb", json.dumps(notebook))
    result = check_file(path, "work/a.ipynb", context())
    assert result.summary["code_cells"] == 2 and result.summary["outputs"] == 2
    assert [f.message for f in result.flags] == [
        "cell 1: an output holds a table", "cell 2: an output holds a figure"]  # fmt: skip
    cells = preview.preview(path, "work/a.ipynb", result.to_dict(), 10, 0)
    assert [c.holds for c in cells] == [["table"], ["figure"], []]
    assert cells[0].outputs == ["   n\n0  3"]


@pytest.mark.parametrize("name", ["work/notes.md", "work/model.txt", "work/coefs.rds"])
def test_anything_else_needs_a_careful_read(tmp_path, name):
    path = write(tmp_path, Path(name).name, "beta 0.42\nid 0123456789abcdef0123\n")
    result = check_file(path, name, context())
    assert result.careful_read
    assert codes(result) == [("identifier", None)]


def test_kinds_follow_the_file_name():
    assert [checks.kind_of(n) for n in ("a.CSV", "b.parquet", "c.svg", "d.pdf", "e.ipynb",
                                        "f.md", "g.bin")] == [
        "table", "table", "image", "pdf", "notebook", "text", "other"]  # fmt: skip
