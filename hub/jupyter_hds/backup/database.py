"""A consistent copy of the hub's database, and putting it back: the step switches on the URL.

SQLite (the default, in the state folder): SQLite's online backup API, safe while the hub
writes (never `cp` a live WAL database). PostgreSQL: `pg_dump --format=custom`, restored
with `pg_restore`; the password comes from root's ~/.pgpass, never from the URL.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .restic import BackupError

SQLITE_FILE, PG_DUMP_FILE = "jupyterhub.sqlite", "database.pgdump"
Runner = Callable[[list[str]], subprocess.CompletedProcess]


def kind(url: str) -> str:
    """`sqlite` or `postgresql`, from a SQLAlchemy URL (`postgresql+psycopg2://...` too)."""
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme == "postgres":
        return "postgresql"
    if scheme not in ("sqlite", "postgresql"):
        raise BackupError(
            f"the hub's database {scheme}:// cannot be backed up; use SQLite or PostgreSQL"
        )
    return scheme


def sqlite_path(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise BackupError(f"{url} is not a SQLite file URL (sqlite:////path/jupyterhub.sqlite)")
    return Path(url[len("sqlite:///") :])


def pg_url(url: str) -> str:
    """The URL as libpq reads it: no SQLAlchemy driver suffix."""
    parts = urlsplit(url)
    return parts._replace(scheme="postgresql").geturl()


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True)


def dump(url: str, folder: Path, run: Runner = _run) -> dict[str, Any]:
    """Write a consistent copy of the database into `folder`; what the manifest says of it."""
    if kind(url) == "sqlite":
        source = sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"no hub database at {source}: has the hub run with this state?")
        copy_sqlite(source, folder / SQLITE_FILE)
        return {"kind": "sqlite", "file": SQLITE_FILE}
    target = folder / PG_DUMP_FILE
    command = ["pg_dump", "--format=custom", "--no-password", f"--file={target}", pg_url(url)]
    _check(run(command), "pg_dump")
    return {"kind": "postgresql", "file": PG_DUMP_FILE, "url": url}


def copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup of `source` into a new file `target`, checked."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)  # every page in one step: one consistent read transaction
        (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
    live.close()
    copy.close()
    if verdict != "ok":
        raise BackupError(f"the copy of {source} fails SQLite's integrity check: {verdict}")
    target.chmod(0o600)


def put_back(database: dict[str, Any], staged: Path, state: Path, url: str, run: Runner = _run):
    """Restore the dumped database: the SQLite file into the new state folder, or PostgreSQL
    into the database at `url` (which must be empty: pg_restore refuses to mix two hubs)."""
    if database["kind"] == "sqlite":
        shutil.copy2(staged / database["file"], state / SQLITE_FILE)
        return
    command = [
        "pg_restore", "--no-password", "--exit-on-error", "--single-transaction",
        f"--dbname={pg_url(url)}", str(staged / database["file"]),
    ]  # fmt: skip
    _check(run(command), "pg_restore")


def _check(done: subprocess.CompletedProcess, tool: str) -> None:
    if done.returncode != 0:
        raise BackupError(
            f"{tool} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}"
        )
