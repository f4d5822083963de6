"""Dataset references, versions on disk, the k-anonymity report, and project keys."""

from __future__ import annotations

import json
import stat

import duckdb
import pytest

from jupyter_hds.datasets import checks
from jupyter_hds.datasets.keys import ProjectKeys, key_id
from jupyter_hds.datasets.names import Reference, parse_reference
from jupyter_hds.datasets.store import DatasetStore


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("cohort", Reference("cohort")),
        ("cohort@3", Reference("cohort", 3)),
        ("a_b-2@12", Reference("a_b-2", 12)),
    ],
)
def test_references(text, reference):
    assert parse_reference(text) == reference and str(reference) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [("cohort@0", "NAME@VERSION with VERSION 1, 2"), ("cohort@x", "NAME@VERSION"), ("cohort@01", "NAME@VERSION"),
     ("cohort@", "NAME@VERSION"), ("@1", "cannot name a dataset"), ("../cohort@1", "cannot name a dataset"),
     ("co/hort", "cannot name a dataset"), ("Cohort", "cannot name a dataset")],
)  # fmt: skip
def test_references_that_name_no_dataset(text, message):
    with pytest.raises(ValueError, match=message):
        parse_reference(text)


def publish(store: DatasetStore, name: str, rows: int) -> int:
    with store.building(name) as build:
        (build.path / "t.parquet").write_bytes(b"x")
        version, _, _ = build.publish({"dataset": name, "tables": {"t": {"rows": rows}}})
    return version


def test_versions_listing_and_resolving(tmp_path):
    store = DatasetStore(tmp_path / "datasets")
    assert store.list() == [] and store.versions("cohort") == []
    with pytest.raises(FileNotFoundError, match="there is no dataset 'cohort'; import it first"):
        store.resolve("cohort")
    assert [publish(store, "cohort", n) for n in (1, 2, 3)] == [1, 2, 3]
    publish(store, "other", 5)
    (tmp_path / "datasets" / "cohort" / ".build-1-dead").mkdir()  # a crashed import's folder
    listed = [(v.name, v.version, v.manifest["tables"]["t"]["rows"]) for v in store.list()]
    assert listed == [("cohort", 1, 1), ("cohort", 2, 2), ("cohort", 3, 3), ("other", 1, 5)]
    assert store.resolve("cohort").name == "3" and store.resolve(Reference("cohort", 2)).name == "2"
    with pytest.raises(FileNotFoundError, match="dataset cohort has no version 4; it has 1, 2, 3"):
        store.resolve("cohort@4")
    assert publish(store, "cohort", 4) == 4
    assert sorted(p.name for p in (tmp_path / "datasets" / "cohort").iterdir()) == [
        "1",
        "2",
        "3",
        "4",
    ]
    manifest = json.loads((store.resolve("cohort@4") / "manifest.json").read_text())
    assert manifest["version"] == 4


def test_a_build_that_fails_leaves_nothing(tmp_path):
    store = DatasetStore(tmp_path / "datasets")
    with pytest.raises(RuntimeError), store.building("cohort") as build:
        (build.path / "t.parquet").write_bytes(b"x")
        raise RuntimeError("stopped half-way")
    assert not (tmp_path / "datasets" / "cohort").exists()


def k_report(tmp_path, rows, columns=("a", "b"), k=3):
    path = tmp_path / "t.parquet"
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR, b INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    return checks.k_anonymity(con, "t", list(columns), path, k)


def test_k_anonymity_report(tmp_path):
    rows = [("x", 1)] * 5 + [("x", 2)] * 2 + [("y", 1)] + [(None, 1)] * 3 + [("y", None)] * 2
    assert k_report(tmp_path, rows) == {
        "quasi_identifiers": ["a", "b"], "groups": 5, "smallest_group": 1, "rows_in_groups_under_k": 5,
    }  # fmt: skip
    assert k_report(tmp_path, rows, columns=("b",))["smallest_group"] == 2  # (NULL) is a group too
    assert k_report(tmp_path, [("x", 1)] * 3, k=3)["rows_in_groups_under_k"] == 0


def test_project_keys_are_made_once_and_never_overwritten(tmp_path):
    keys = ProjectKeys(tmp_path / "keys")
    first = keys.get_or_create("alpha")
    assert keys.get_or_create("alpha") == first and len(first) == 32
    assert stat.S_IMODE(keys.path("alpha").stat().st_mode) == 0o600
    assert keys._write("alpha", bytes(32), replace=False) is False and keys.load("alpha") == first
    keys.replace("alpha", bytes(32))
    assert keys.load("alpha") == bytes(32) and key_id(bytes(32)) != key_id(first)
    assert sorted(p.name for p in keys.folder.iterdir()) == ["alpha.key"]  # no temporary left
    keys.path("beta").write_bytes(b"short")
    with pytest.raises(
        ValueError, match="holds 5 bytes, not a 32-byte key; restore it from a backup"
    ):
        keys.load("beta")
    with pytest.raises(ValueError, match="cannot name a project key"):
        keys.path("../x")
