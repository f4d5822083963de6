"""Read the project's dataset in one line: `con = hds_dataset.connect()`, one view per table.

import hds_dataset
con = hds_dataset.connect()
con.sql("select sex, count(*) from patients group by sex").df()
labs = hds_dataset.read("labs")          # a pandas DataFrame
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pandas as pd

DATASET_DIR = Path(os.environ.get("HDS_DATASET_DIR", "~/dataset")).expanduser()
READERS = {".parquet": "read_parquet", ".csv": "read_csv_auto"}


def tables(folder: str | os.PathLike[str] = DATASET_DIR) -> dict[str, str]:
    """Table name -> DuckDB source: each `x.parquet` or `x.csv`, or a folder `x/` of Parquet."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"no dataset folder at {root}")
    found = {}
    for path in sorted(root.iterdir()):
        name = re.sub(r"\W", "_", path.stem if path.is_file() else path.name).lower()
        if path.is_file() and path.suffix.lower() in READERS:
            found[name] = f"{READERS[path.suffix.lower()]}('{_quote(path)}')"
        elif path.is_dir() and any(path.rglob("*.parquet")):
            found[name] = f"read_parquet('{_quote(path)}/**/*.parquet', hive_partitioning=true)"
    return found


def connect(folder: str | os.PathLike[str] = DATASET_DIR) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table of the dataset."""
    con = _duckdb()
    for name, source in tables(folder).items():
        con.execute(f'create view "{name}" as select * from {source}')  # noqa: S608 (names are \w)
    return con


def read(table: str, folder: str | os.PathLike[str] = DATASET_DIR) -> pd.DataFrame:
    """A whole table as a pandas DataFrame."""
    available = tables(folder)
    if table not in available:
        raise KeyError(f"no table {table!r} in the dataset; tables: {', '.join(available)}")
    with _duckdb() as con:
        return con.execute(f"select * from {available[table]}").df()  # noqa: S608


def _duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that spills to the /tmp tmpfs.

    Not to its default `.tmp` in the current (notebook) folder: the container's root is
    read-only, and spilled table data does not belong next to the researcher's work.
    """
    return duckdb.connect(config={"temp_directory": "/tmp/duckdb"})  # noqa: S108


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
