"""The synthetic demo cohort: realistic columns, stable content, and the helper that reads it."""

from __future__ import annotations

import duckdb
import pytest

import hds_dataset
from jupyter_hds import demo_dataset


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    demo_dataset.generate(folder, patients=300)
    return folder


def test_tables_and_pseudonymised_columns(cohort):
    con = hds_dataset.connect(cohort)
    assert sorted(hds_dataset.tables(cohort)) == ["labs", "patients", "stays"]
    columns = {row[0] for row in con.execute("describe patients").fetchall()}
    assert {"pseudo_id", "sex", "age_band", "region"} <= columns
    assert con.execute("select count(*) from patients").fetchone() == (300,)
    orphans = con.execute(
        "select count(*) from stays s anti join patients p using (pseudo_id)"
    ).fetchone()
    assert orphans == (0,)
    assert con.execute("select min(value) > 0 from labs").fetchone() == (True,)


def test_generation_is_deterministic(cohort, tmp_path):
    demo_dataset.generate(tmp_path, patients=300)
    same = duckdb.connect().execute(
        f"select count(*) from (select * from '{cohort}/labs.parquet' except "
        f"select * from '{tmp_path}/labs.parquet')"
    )
    assert same.fetchone() == (0,)


def test_ensure_generates_once(tmp_path):
    assert demo_dataset.ensure(tmp_path, patients=50) is True
    assert demo_dataset.ensure(tmp_path, patients=50) is False


def test_pandas_reads_the_same_tables(cohort):
    frame = hds_dataset.read("patients", cohort)
    assert len(frame) == 300 and frame["pseudo_id"].is_unique
    with pytest.raises(KeyError, match="tables: labs, patients, stays"):
        hds_dataset.read("visits", cohort)


def test_connections_spill_to_the_tmpfs_not_the_notebook_folder(cohort, monkeypatch):
    spill_folders = []
    real_connect = duckdb.connect

    def connect(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        spill_folders.append(con.execute("select current_setting('temp_directory')").fetchone())
        return con

    monkeypatch.setattr(duckdb, "connect", connect)
    hds_dataset.connect(cohort)
    hds_dataset.read("patients", cohort)
    assert spill_folders == [("/tmp/duckdb",), ("/tmp/duckdb",)]
