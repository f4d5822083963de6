"""The demo's raw extract and its shipped spec: every rule used, checks passed, nothing left."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import duckdb
import pytest

from jupyter_hds.datasets import identifiers
from jupyter_hds.datasets.importer import Importer, ImportRequest
from jupyter_hds.datasets.keys import ProjectKeys
from jupyter_hds.datasets.spec import RULES, parse_spec
from jupyter_hds.datasets.store import DatasetStore

DEMO = Path(__file__).resolve().parents[2] / "demo" / "raw-extract"


def load_generator():
    spec = importlib.util.spec_from_file_location("make_extract", DEMO / "make_extract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extract")
    load_generator().generate(folder)  # the default size, as the demo makes it
    return folder


def rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_the_shipped_spec_uses_every_rule_and_generalisation():
    spec = parse_spec((DEMO / "spec.toml").read_text())
    columns = [c for t in spec.tables for c in t.columns]
    assert {c.rule for c in columns} == set(RULES)
    assert {c.to for c in columns if c.rule == "generalise"} == {
        "month",
        "year",
        "band",
        "departement",
    }


def test_the_extract_looks_like_a_raw_export(extract):
    patients = rows(extract / "patients.csv")
    con = duckdb.connect()
    identifiers.install(con)
    found = con.execute(
        "SELECT count_if(hds_is_nir(nir)), count_if(hds_is_phone(telephone)), count_if(hds_is_email(email)) "
        "FROM read_csv(?, all_varchar=true)",
        [str(extract / "patients.csv")],
    ).fetchone()
    assert found == (
        len(patients),
        sum(bool(p["telephone"]) for p in patients),
        sum(bool(p["email"]) for p in patients),
    )
    assert {p["nir"][5:7] for p in patients} >= {"2A", "2B", "97", "99"}
    assert any(any(ch in p["nom"] + p["prenom"] for ch in "ÉÈéèçëï") for p in patients)


def test_the_extract_is_the_same_for_the_same_seed(tmp_path):
    generator = load_generator()
    generator.generate(tmp_path / "a", count=200)
    generator.generate(tmp_path / "b", count=200)
    generator.generate(tmp_path / "c", count=200, seed=15)
    for name in ("patients.csv", "stays.csv", "labs.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()


def test_the_demo_imports_with_the_shipped_checks_and_leaves_no_identifier(extract, tmp_path):
    importer = Importer(
        DatasetStore(tmp_path / "datasets"), ProjectKeys(tmp_path / "keys"), lambda p: p == "demo"
    )
    files = tuple(sorted(extract.glob("*.csv")))
    result = importer.run(
        ImportRequest("demo-cohort", "demo", (DEMO / "spec.toml").read_text(), files, "admin")
    )
    manifest = result.manifest
    assert manifest["forced"] is False and manifest["checks"]["identifiers"] == []
    assert manifest["checks"]["k_anonymity"]["tables"]["patients"]["smallest_group"] >= 5
    assert manifest["tables"]["patients"]["rows"] == 12000
    written = b"".join(p.read_bytes() for p in result.path.iterdir())
    for patient in rows(extract / "patients.csv")[:300]:
        for column in ("nom", "nir", "telephone", "email", "ipp", "adresse"):
            if patient[column] and len(patient[column]) > 5:
                assert patient[column].encode() not in written, column
