"""Import benchmark: the DuckDB import against a plain pandas + hashlib one, same spec and key.

Writes a raw hospital-stays CSV of --rows rows (a person every --rows-per-person rows), then
imports it twice, each in its own process: with `jupyter_hds.datasets` (DuckDB, streaming to
Parquet) and with pandas (read the file, HMAC and postcode rules as per-value Python
functions, the rest vectorised, then Parquet). Both run the same checks and hash their input
and output. Prints rows per second, the ratio, each process's CPU time and peak RSS (its own
rusage, from wait4), then compares the two outputs value by value. DuckDB uses every core,
pandas one: on a shared machine, CPU seconds are the steadier figure.

Run: `.venv/bin/python tests/benchmarks/bench_import.py --rows 10000000` (default 1,000,000).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from jupyter_hds.datasets.importer import Importer, ImportRequest
from jupyter_hds.datasets.keys import ProjectKeys, derive
from jupyter_hds.datasets.store import DatasetStore

MAX_DAYS = 180
K = 5
SPEC = f"""
[date_shift]
max_days = {MAX_DAYS}

[checks]
k = {K}
quasi_identifiers = ["stays.birth_year", "stays.departement", "stays.age_band"]

[tables.stays.columns]
stay_id = "pseudonym"
patient_id = "pseudonym"
last_name = "drop"
nir = "drop"
birth_date = {{ rule = "generalise", to = "year", as = "birth_year" }}
postcode = {{ rule = "generalise", to = "departement", as = "departement" }}
admission = {{ rule = "date_shift", person = "patient_id" }}
discharge = {{ rule = "date_shift", person = "patient_id" }}
age = {{ rule = "generalise", to = "band", width = 10, top = 90, as = "age_band" }}
diagnosis = "keep"
amount = "keep"
"""
POSTCODES = [
    "75001",
    "69002",
    "13008",
    "33000",
    "59000",
    "20000",
    "20200",
    "97133",
    "31000",
    "44000",
    "01000",
    "67000",
]


def write_raw(path: Path, rows: int, rows_per_person: int) -> None:
    persons = max(rows // rows_per_person, 1)
    postcodes = "[" + ", ".join(f"'{p}'" for p in POSTCODES) + "]"
    duckdb.execute(f"""
        COPY (SELECT 'S' || i AS stay_id,
                     'P' || lpad(CAST(hash(i, 1) % {persons} AS VARCHAR), 9, '0') AS patient_id,
                     'Nom' || (hash(i, 2) % 5000) AS last_name,
                     '1' || lpad(CAST(hash(i, 3) % 100000000000000 AS VARCHAR), 14, '0') AS nir,
                     DATE '1930-01-01' + CAST(hash(i, 4) % 27000 AS INTEGER) AS birth_date,
                     {postcodes}[CAST(1 + hash(i, 5) % {len(POSTCODES)} AS BIGINT)] AS postcode,
                     DATE '2015-01-01' + CAST(hash(i, 6) % 3000 AS INTEGER) AS admission,
                     DATE '2015-01-01' + CAST(hash(i, 6) % 3000 + hash(i, 7) % 20 AS INTEGER)
                         AS discharge,
                     CAST(hash(i, 9) % 100 AS INTEGER) AS age,
                     ['I10', 'E11.9', 'J18.9', 'I48.9', 'N18.3'][CAST(1 + hash(i, 8) % 5 AS BIGINT)]
                         AS diagnosis,
                     round((hash(i, 10) % 100000) / 100.0, 2) AS amount
              FROM range({rows}) t(i)) TO '{path}' (HEADER)""")  # noqa: S608 (our own values)


def run_duckdb(state: Path, raw: Path, out: Path) -> dict:
    importer = Importer(DatasetStore(state / "datasets"), ProjectKeys(state / "keys"), bool)
    result = importer.run(ImportRequest("bench", "bench", SPEC, (raw,), "bench"))
    os.symlink(result.path / "stays.parquet", out)
    return {"rows": result.manifest["tables"]["stays"]["rows"]}


# The pandas implementation: what a data manager would write with pandas and hashlib.
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE = r"(0|(\+|00)(33|262|590|594|596)(\(0\)|0)?)[1-9][0-9]{8}"
NIR = r"[1-478][0-9]{4}([0-9]{2}|2[AB])[0-9]{8}"


def departement(postcode: str | None) -> str | None:
    if postcode is None or postcode != postcode:
        return None
    if not re.fullmatch(r"[0-9]{5}", postcode):
        raise ValueError("not a postcode")
    if "20000" <= postcode <= "20190":
        return "2A"
    if "20200" <= postcode <= "20620":
        return "2B"
    if postcode.startswith(("20", "980")):
        raise ValueError("no département")
    if re.fullmatch(r"97[1-6][0-9]{2}|98[4678][0-9]{2}", postcode):
        return postcode[:3]
    if re.fullmatch(r"(0[1-9]|[1-8][0-9]|9[0-5])[0-9]{3}", postcode):
        return postcode[:2]
    raise ValueError("no département")


def nir_ok(value: str) -> bool:
    compact = re.sub(r"[ .\-/]", "", value.strip().upper())
    if not re.fullmatch(NIR, compact):
        return False
    return 97 - int(compact[:13].replace("2A", "19").replace("2B", "18")) % 97 == int(compact[13:])


def run_pandas(state: Path, raw: Path, out: Path) -> dict:
    import pandas as pd

    secret = ProjectKeys(state / "keys").load("bench")
    pseudonym_key, shift_key = derive(secret, "pseudonym"), derive(secret, "date-shift")

    def pseudonym(value):
        if value is None or value != value:
            return None
        return hmac.new(pseudonym_key, value.encode(), hashlib.sha256).hexdigest()[:20]

    def offset(value):
        if value is None or value != value:
            return float("nan")
        digest = hmac.new(shift_key, value.encode(), hashlib.sha256).hexdigest()
        r = int(digest[:12], 16) % (2 * MAX_DAYS)
        return r - MAX_DAYS if r < MAX_DAYS else r - MAX_DAYS + 1

    input_digest = _sha256(raw)
    text = {c: str for c in ("stay_id", "patient_id", "last_name", "nir", "postcode", "diagnosis")}
    df = pd.read_csv(raw, dtype=text, parse_dates=["birth_date", "admission", "discharge"])
    shift = pd.to_timedelta(df["patient_id"].map(offset), unit="D")
    lows = (df["age"] // 10 * 10).astype("Int64")
    band = lows.astype(str) + "-" + (lows + 9).astype(str)
    out_df = pd.DataFrame(
        {
            "stay_id": df["stay_id"].map(pseudonym),
            "patient_id": df["patient_id"].map(pseudonym),
            "birth_year": df["birth_date"].dt.year.astype("Int32"),
            "departement": df["postcode"].map(departement),
            "admission": (df["admission"] + shift).dt.date,
            "discharge": (df["discharge"] + shift).dt.date,
            "age_band": band.where(df["age"] < 90, "90+").where(df["age"].notna(), None),
            "diagnosis": df["diagnosis"],
            "amount": df["amount"],
        }
    )
    kept = out_df["diagnosis"].dropna()
    found = {
        "nir": sum(map(nir_ok, kept[kept.str.fullmatch(r"[0-9AB .\-/]{15,}")])),
        "email": int(kept.str.contains(EMAIL.replace("(", "(?:")).sum()),
        "phone": int(kept.str.replace(r"[ .\-/]", "", regex=True).str.fullmatch(PHONE).sum()),
        "postcode": int(kept.str.strip().str.fullmatch(r"[0-9]{5}").sum()),
    }
    groups = out_df.groupby(["birth_year", "departement", "age_band"], dropna=False).size()
    if any(found[k] for k in ("nir", "email", "phone")) or groups.min() < K:
        raise SystemExit(f"pandas: refused ({found}, smallest group {groups.min()})")
    out_df.to_parquet(out, index=False)
    return {"rows": len(out_df), "input_sha256": input_digest, "output_sha256": _sha256(out)}


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def child(engine: str, state: Path, raw: Path, out: Path) -> None:
    started = time.perf_counter()
    result = (run_duckdb if engine == "duckdb" else run_pandas)(state, raw, out)
    print(json.dumps({**result, "seconds": time.perf_counter() - started}))


def measure(engine: str, state: Path, raw: Path, out: Path) -> dict:
    """Run one engine in its own process; its result, and its own peak RSS (wait4)."""
    command = [sys.executable, __file__, "--child", engine, str(state), str(raw), str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{engine} failed (exit {process.returncode})")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        **json.loads(stdout.splitlines()[-1]),
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "cpu": cpu,
    }


def compare(duck: Path, pand: Path) -> tuple[int, int]:
    """Rows compared, and rows where the two outputs differ (joined on the stay pseudonym)."""
    columns = [
        "patient_id",
        "birth_year",
        "departement",
        "admission",
        "discharge",
        "age_band",
        "diagnosis",
        "amount",
    ]
    differs = " OR ".join(
        f"CAST(a.{c} AS VARCHAR) IS DISTINCT FROM CAST(b.{c} AS VARCHAR)" for c in columns
    )
    return duckdb.execute(
        f"SELECT count(*), count_if(a.stay_id IS NULL OR b.stay_id IS NULL OR {differs}) "  # noqa: S608
        f"FROM read_parquet('{duck}') a FULL JOIN read_parquet('{pand}') b USING (stay_id)"
    ).fetchone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-per-person", type=int, default=5)
    parser.add_argument(
        "--child", nargs=4, metavar=("ENGINE", "STATE", "RAW", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        engine, *paths = args.child
        child(engine, *map(Path, paths))
        return
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        work = Path(folder)
        raw = work / "stays.csv"
        started = time.perf_counter()
        write_raw(raw, args.rows, args.rows_per_person)
        print(
            f"raw extract: {args.rows:,} rows, {raw.stat().st_size / 2**20:,.0f} MiB CSV, "
            f"written in {time.perf_counter() - started:.1f} s; {os.cpu_count()} CPUs"
        )
        ProjectKeys(work / "state" / "keys").get_or_create("bench")
        results = {
            "duckdb": measure("duckdb", work / "state", raw, work / "duckdb.parquet"),
            "pandas": measure("pandas", work / "state", raw, work / "pandas.parquet"),
        }
        compared, differ = compare(work / "duckdb.parquet", work / "pandas.parquet")
    print(f"{'engine':<8} {'rows':>12} {'seconds':>9} {'rows/s':>12} {'CPU s':>8} {'peak RSS':>10}")
    for engine, r in results.items():
        print(
            f"{engine:<8} {r['rows']:>12,} {r['seconds']:>9.1f} "
            f"{r['rows'] / r['seconds']:>12,.0f} {r['cpu']:>8.1f} {r['peak_rss_mib']:>7,.0f} MiB"
        )
    ratio = results["pandas"]["seconds"] / results["duckdb"]["seconds"]
    print(
        f"duckdb is {ratio:.1f}x pandas; outputs compared on {compared:,} rows: "
        f"{'identical' if not differ else f'{differ:,} rows DIFFER'}"
    )


if __name__ == "__main__":
    main()
