"""A throwaway PostgreSQL cluster from Debian's packages, for the tiers that run the hub on it.

Started once per test process (`initdb` and `pg_ctl` as the postgres user, in a temporary
folder, on a free loopback port, trust authentication on loopback only) and stopped at the
end of the session; each hub gets its own database (`Cluster.new_database`).
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from .hub import free_port

PG_USER = "postgres"


def pg_bin(tool: str) -> str:
    """A PostgreSQL server tool from Debian's packages (they are not on $PATH there)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)
    if found:
        return found[0]
    if shutil.which(tool):
        return shutil.which(tool)  # type: ignore[return-value]
    pytest.fail(
        f"PostgreSQL's {tool} is missing: `make venv` installs Debian's postgresql "
        "(scripts/ensure-host.sh)",
        pytrace=False,
    )


class Cluster:
    """One PostgreSQL server in a temporary folder, owned by the postgres user."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hds-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.started = False

    def _as_postgres(self, *command: str) -> subprocess.CompletedProcess:
        if os.geteuid() != 0:
            # Running as the postgres user already, or as someone who owns the folder.
            return subprocess.run(command, capture_output=True, text=True, check=False)
        return subprocess.run(
            ["runuser", "-u", PG_USER, "--", *command], capture_output=True, text=True, check=False
        )

    def _check(self, done: subprocess.CompletedProcess, what: str) -> None:
        if done.returncode != 0:
            log = self.folder / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} failed: {done.stdout}{done.stderr}\n{tail}")

    def start(self) -> Cluster:
        if os.geteuid() == 0:
            account = pwd.getpwnam(PG_USER)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self.folder.chmod(0o700)
        done = self._as_postgres(
            pg_bin("initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        self._check(done, "initdb")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=200"
        )
        done = self._as_postgres(
            pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "postgres.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self._check(done, "pg_ctl start")
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            self._as_postgres(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [pg_bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database),
             "-c", sql],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        self._check(done, f"psql {sql!r}")
        return done.stdout.strip()

    def new_database(self, prefix: str = "hds") -> str:
        """An empty database of its own; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)


_cluster: Cluster | None = None


@pytest.fixture(scope="session")
def postgres():
    """The test process's PostgreSQL cluster (started on first use, stopped at the end)."""
    global _cluster
    if _cluster is None:
        _cluster = Cluster().start()
    yield _cluster
    if _cluster is not None:
        with contextlib.suppress(Exception):
            _cluster.stop()
        _cluster = None


def reuse_module(path: Path, into: dict, exclude: tuple[str, ...] = ()) -> None:
    """Run the tests of another test file again in the module whose globals are `into`.

    Its test functions and fixtures are copied in; the module then overrides a fixture (the
    hub, with `db_url`) so the same tests run against another database. Nothing is copied
    over a name the module already defines.
    """
    spec = importlib.util.spec_from_file_location(f"reused_{path.stem}_{id(into)}", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, value in vars(module).items():
        if name in into or name in exclude or name.startswith("__"):
            continue
        into[name] = value
