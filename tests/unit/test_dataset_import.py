"""An import from raw files to a published version: layout, pseudonyms, date shifts, keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import stat

import duckdb
import pytest

from jupyter_hds.datasets.importer import Importer, ImportRequest
from jupyter_hds.datasets.keys import ProjectKeys, derive, key_id
from jupyter_hds.datasets.store import DatasetStore

SPEC = """
[date_shift]
max_days = 30

[checks]
k = 2
quasi_identifiers = ["patients.birth_year", "patients.sex"]

[tables.patients.columns]
patient_id = "pseudonym"
name = "drop"
nir = "drop"
birth_date = { rule = "generalise", to = "year", as = "birth_year" }
postcode = { rule = "generalise", to = "departement", as = "departement" }
sex = "keep"
first_visit = { rule = "date_shift", person = "patient_id" }

[tables.stays.columns]
stay_id = "keep"
patient_id = "pseudonym"
admission = { rule = "date_shift", person = "patient_id" }
diagnosis = "keep"
"""
POSTCODES = ["75001", "01000", "20000", "20200", "97133", "69002"]


def nir(first13: str) -> str:
    return first13 + f"{97 - int(first13) % 97:02d}"


def patient_rows(count: int = 40) -> list[tuple]:
    return [
        (f"{i:06d}", f"Name{i}", nir(f"185057800{i:04d}"), f"{1950 + 10 * (i % 2)}-0{1 + i % 9}-1{i % 9}",
         POSTCODES[i % len(POSTCODES)], "FM"[(i // 2) % 2], "2024-02-29" if i == 0 else f"2023-03-{1 + i % 28:02d}")
        for i in range(count)
    ]  # fmt: skip


def write_csv(path, header: str, rows: list[tuple]) -> None:
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_stays(path, count: int = 100) -> None:
    duckdb.execute(
        f"""COPY (SELECT i AS stay_id, lpad(CAST(i % 40 AS VARCHAR), 6, '0') AS patient_id,
               CASE WHEN i = 7 THEN NULL WHEN i = 40 THEN DATE '2024-02-29'
                    ELSE DATE '2022-01-01' + CAST(i AS INTEGER) END AS admission,
               'I10' AS diagnosis FROM range({count}) t(i)) TO '{path}' (FORMAT parquet)"""
    )


@pytest.fixture
def raw(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    write_csv(
        folder / "patients.csv",
        "patient_id,name,nir,birth_date,postcode,sex,first_visit",
        patient_rows(),
    )
    write_stays(folder / "stays.parquet")
    return folder


@pytest.fixture
def state(tmp_path):
    class State:
        datasets = DatasetStore(tmp_path / "state" / "datasets")
        keys = ProjectKeys(tmp_path / "state" / "keys")
        importer = Importer(
            datasets, keys, lambda name: name in ("alpha", "beta"), memory_limit="256MB"
        )

        def run(self, raw, spec=SPEC, name="cohort", project="alpha", **options):
            files = options.pop("files", None) or sorted(raw.iterdir())
            request = ImportRequest(name, project, spec, tuple(files), "ann", **options)
            return self.importer.run(request)

    return State()


def table(path, sql: str = "SELECT * FROM t"):
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{path}')")
    return con.execute(sql).fetchall()


def python_pseudonym(secret: bytes, value: str) -> str:
    return hmac.new(derive(secret, "pseudonym"), value.encode(), hashlib.sha256).hexdigest()[:20]


def python_offset(secret: bytes, value: str, max_days: int) -> int:
    digest = hmac.new(derive(secret, "date-shift"), value.encode(), hashlib.sha256).hexdigest()
    r = int(digest[:12], 16) % (2 * max_days)
    return r - max_days if r < max_days else r - max_days + 1


def test_an_import_publishes_a_read_only_version_with_its_manifest(state, raw):
    result = state.run(raw)
    folder = state.datasets.root / "cohort" / "1"
    assert result.path == folder and result.version == 1
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "patients.parquet",
        "stays.parquet",
    ]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o444}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (
        hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
        == result.manifest_sha256
    )
    assert (
        manifest["dataset"],
        manifest["version"],
        manifest["project"],
        manifest["imported_by"],
    ) == ("cohort", 1, "alpha", "ann")
    assert manifest["spec"] == SPEC and manifest["forced"] is False
    for name, rows in (("patients", 40), ("stays", 100)):
        entry = manifest["tables"][name]
        data = (folder / entry["file"]).read_bytes()
        assert (entry["rows"], entry["sha256"], entry["bytes"]) == (
            rows,
            hashlib.sha256(data).hexdigest(),
            len(data),
        )
    inputs = {i["file"]: i for i in manifest["inputs"]}
    assert (
        inputs["patients.csv"]["sha256"]
        == hashlib.sha256((raw / "patients.csv").read_bytes()).hexdigest()
    )
    assert inputs["stays.parquet"]["table"] == "stays"
    secret = state.keys.load("alpha")
    assert manifest["key_id"] == key_id(secret)
    text = (folder / "manifest.json").read_text()
    for material in (
        secret.hex(),
        derive(secret, "pseudonym").hex(),
        derive(secret, "date-shift").hex(),
    ):
        assert material not in text
    assert manifest["checks"]["k_anonymity"]["tables"]["patients"]["smallest_group"] == 10
    assert [c["name"] for c in manifest["tables"]["patients"]["columns"]] == [
        "patient_id",
        "birth_year",
        "departement",
        "sex",
        "first_visit",
    ]
    assert state.datasets.resolve("cohort") == folder


def test_the_rules_as_written_to_parquet(state, raw):
    folder = state.run(raw).path
    secret = state.keys.load("alpha")
    rows = table(
        folder / "patients.parquet", "SELECT patient_id, birth_year, departement, sex FROM t"
    )
    expected = {
        (
            python_pseudonym(secret, r[0]),
            int(r[3][:4]),
            {
                "75001": "75",
                "01000": "01",
                "20000": "2A",
                "20200": "2B",
                "97133": "971",
                "69002": "69",
            }[r[4]],
            r[5],
        )
        for r in patient_rows()
    }
    assert set(rows) == expected
    types = dict(
        table(folder / "patients.parquet", "SELECT column_name, column_type FROM (DESCRIBE t)")
    )
    assert types == {
        "patient_id": "VARCHAR",
        "birth_year": "INTEGER",
        "departement": "VARCHAR",
        "sex": "VARCHAR",
        "first_visit": "DATE",
    }


def test_no_raw_identifier_and_no_correspondence_table_is_written(state, raw):
    state.run(raw)
    written = b"".join(p.read_bytes() for p in state.datasets.root.rglob("*") if p.is_file())
    for patient_id, name, nir, *_ in patient_rows():
        assert name.encode() not in written and nir.encode() not in written
        assert (
            f",{patient_id}".encode() not in written and f'"{patient_id}"'.encode() not in written
        )
    keys = [p.name for p in state.keys.folder.iterdir()]
    assert keys == ["alpha.key"]


def test_a_person_has_one_pseudonym_across_tables_and_another_in_another_project(state, raw):
    alpha = state.run(raw)
    beta = state.run(raw, name="cohort-b", project="beta")
    for result in (alpha, beta):
        patients = {
            r[0] for r in table(result.path / "patients.parquet", "SELECT patient_id FROM t")
        }
        stays = {r[0] for r in table(result.path / "stays.parquet", "SELECT patient_id FROM t")}
        assert stays == patients and len(patients) == 40
    alpha_ids = {r[0] for r in table(alpha.path / "patients.parquet", "SELECT patient_id FROM t")}
    beta_ids = {r[0] for r in table(beta.path / "patients.parquet", "SELECT patient_id FROM t")}
    assert not alpha_ids & beta_ids
    assert key_id(state.keys.load("alpha")) != key_id(state.keys.load("beta"))


def test_dates_shift_by_one_offset_per_person_in_every_table_and_every_reimport(state, raw):
    # patients has one row per person (offsets computed in the row), stays 2.5 rows per person
    # (offsets computed once per person and joined): both ways must give the same offsets.
    first, second = state.run(raw), state.run(raw)
    secret = state.keys.load("alpha")
    pseudonyms = {python_pseudonym(secret, r[0]): r for r in patient_rows()}
    for result in (first, second):
        for pseudonym, visit in table(
            result.path / "patients.parquet", "SELECT patient_id, first_visit FROM t"
        ):
            raw_row = pseudonyms[pseudonym]
            offset = python_offset(secret, raw_row[0], 30)
            assert visit == dt.date.fromisoformat(raw_row[6]) + dt.timedelta(days=offset)
            assert offset != 0 and -30 <= offset <= 30
        stays = table(
            result.path / "stays.parquet",
            "SELECT stay_id, patient_id, admission FROM t ORDER BY stay_id",
        )
        for stay_id, pseudonym, admission in stays:
            raw_id = f"{stay_id % 40:06d}"
            assert pseudonym == python_pseudonym(secret, raw_id)
            if stay_id == 7:
                assert admission is None  # a missing date stays missing
                continue
            original = (
                dt.date(2024, 2, 29)
                if stay_id == 40
                else dt.date(2022, 1, 1) + dt.timedelta(days=stay_id)
            )
            assert admission == original + dt.timedelta(days=python_offset(secret, raw_id, 30))
    assert sorted(table(first.path / "stays.parquet")) == sorted(
        table(second.path / "stays.parquet")
    )


def test_29_february_is_shifted_like_any_day(state, raw):
    result = state.run(raw)
    secret = state.keys.load("alpha")
    (shifted,) = table(result.path / "stays.parquet", "SELECT admission FROM t WHERE stay_id = 40")[
        0
    ]
    offset = python_offset(secret, "000000", 30)
    assert shifted == dt.date(2024, 2, 29) + dt.timedelta(days=offset) and shifted != dt.date(
        2024, 2, 29
    )


def test_offsets_are_spread_over_both_signs_and_never_zero(state, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    write_csv(
        folder / "visits.csv",
        "person,day",
        [(f"p{i}", "2024-02-29") for i in range(3000)] + [(None, "2024-01-01"), ("p1", None)],
    )
    spec = '[date_shift]\nmax_days = 3\n[checks]\nk = 2\nquasi_identifiers = []\n[tables.visits.columns]\nperson = "drop"\nday = { rule = "date_shift", person = "person" }\n'
    result = state.run(folder, spec=spec, name="visits")
    days = [r[0] for r in table(result.path / "visits.parquet", "SELECT day FROM t")]
    offsets = {(d - dt.date(2024, 2, 29)).days for d in days if d is not None}
    assert offsets == {-3, -2, -1, 1, 2, 3}
    assert days.count(None) == 2  # no date, and a date without a person to shift it by


def test_versions_count_up_and_a_reference_names_one(state, raw):
    state.run(raw)
    second = state.run(raw)
    assert second.version == 2 and state.datasets.versions("cohort") == [1, 2]
    assert state.datasets.resolve("cohort") == second.path
    assert state.datasets.resolve("cohort@1") == state.datasets.root / "cohort" / "1"
    assert [(v.name, v.version) for v in state.datasets.list()] == [("cohort", 1), ("cohort", 2)]
    assert state.datasets.get("cohort@1").manifest["version"] == 1


def test_the_project_key_is_made_once_root_only_and_rotation_renews_pseudonyms(state, raw):
    assert state.keys.load("alpha") is None
    first = state.run(raw)
    path = state.keys.path("alpha")
    assert (
        stat.S_IMODE(path.stat().st_mode) == 0o600
        and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    )
    old = state.keys.load("alpha")
    assert len(old) == 32 and state.run(raw).manifest["key_id"] == key_id(old)
    rotated = state.run(raw, rotate_key=True)
    new = state.keys.load("alpha")
    assert (
        new != old and rotated.manifest["key_id"] == key_id(new) and rotated.manifest["key_rotated"]
    )
    before = {r[0] for r in table(first.path / "patients.parquet", "SELECT patient_id FROM t")}
    after = {r[0] for r in table(rotated.path / "patients.parquet", "SELECT patient_id FROM t")}
    assert not before & after
    assert state.datasets.get("cohort@1").manifest["key_id"] == key_id(old)  # history stays true
    assert sorted(p.name for p in state.keys.folder.iterdir()) == ["alpha.key"]


def test_a_refused_rotation_keeps_the_old_key(state, raw):
    state.run(raw)
    old = state.keys.load("alpha")
    with pytest.raises(ValueError, match="smaller than k"):
        state.run(raw, spec=SPEC.replace("k = 2", "k = 50"), rotate_key=True)
    assert state.keys.load("alpha") == old


def test_below_k_is_refused_unless_forced_and_the_force_is_recorded(state, raw):
    spec = SPEC.replace("k = 2", "k = 11")
    with pytest.raises(ValueError) as caught:
        state.run(raw, spec=spec)
    assert str(caught.value) == (
        "patients: 40 rows sit in groups smaller than k = 11 over birth_year, sex (smallest group: 10); "
        "generalise further, or import with --force (recorded in the manifest)"
    )
    assert caught.value.report["k_anonymity"]["below_k"] == ["patients"]
    assert state.datasets.versions("cohort") == []
    forced = state.run(raw, spec=spec, force=True)
    assert forced.manifest["forced"] is True
    assert (
        forced.manifest["checks"]["k_anonymity"]["tables"]["patients"]["rows_in_groups_under_k"]
        == 40
    )
    assert state.run(raw, force=True).manifest["forced"] is False  # force that was not needed


def test_an_identifier_left_in_a_kept_column_refuses_even_when_forced(state, raw):
    spec = SPEC.replace('nir = "drop"', 'nir = "keep"')
    with pytest.raises(
        ValueError,
        match=r"patients.nir still looks like a direct identifier \(\d+ nir of 40 values\)",
    ):
        state.run(raw, spec=spec, force=True)
    assert state.datasets.versions("cohort") == []
    allowed = spec.replace('nir = "keep"', 'nir = { rule = "keep", allow_identifiers = true }')
    result = state.run(raw, spec=allowed)
    (finding,) = result.manifest["checks"]["identifiers"]
    assert finding["column"] == "patients.nir" and finding["allowed"] is True
