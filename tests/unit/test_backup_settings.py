"""Backup settings and the database step: what the hub publishes, what the dump runs."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest
from traitlets.config import Config

from jupyter_hds import settings
from jupyter_hds.backup import database
from jupyter_hds.backup.config import Backup
from jupyter_hds.backup.restic import BackupError


def hub_config(tmp_path, db_url: str | None = None) -> Config:
    config = Config()
    config.Deployment.state_dir = str(tmp_path)
    if db_url:
        config.JupyterHub.db_url = db_url
    return config


@pytest.mark.parametrize(
    ("case_id", "db_url", "published"),
    [
        ("the state's sqlite", None, ""),
        ("the state's sqlite, named", "sqlite:///{state}/jupyterhub.sqlite", ""),
        (
            "postgresql, password removed",
            "postgresql+psycopg2://hub:s3cret@db:5432/hub",
            "postgresql+psycopg2://hub@db:5432/hub",
        ),
        ("postgresql without password", "postgresql://hub@db/hub", "postgresql://hub@db/hub"),
    ],
)
def test_the_hub_publishes_its_database_for_backups_without_a_password(
    case_id, db_url, published, tmp_path
):
    config = hub_config(tmp_path, db_url and db_url.format(state=tmp_path))
    loaded = settings.load(settings.publish(config))
    assert Backup(config=loaded).database_url == published
    assert "s3cret" not in (tmp_path / "hds-settings.json").read_text()


def test_a_password_in_the_database_setting_is_refused_with_what_to_write(tmp_path):
    config = hub_config(tmp_path)
    config.Backup.database_url = "postgresql://hub:pw@db/hub"
    with pytest.raises(ValueError, match="write 'postgresql://hub@db/hub' and put the password"):
        Backup(config=config)


def test_a_repository_inside_the_state_folder_is_refused(tmp_path):
    config = hub_config(tmp_path)
    config.Backup.repository = str(tmp_path / "backups")
    with pytest.raises(
        ValueError, match="inside the state folder .* use another disk or an sftp:/s3:"
    ):
        Backup(config=config)
    config.Backup.repository = "sftp:b@vault:/srv/hds"
    assert Backup(config=config).repository == "sftp:b@vault:/srv/hds"


class Runner:
    """Records the commands the database step runs; answers as the tool would."""

    def __init__(self, code: int = 0, stderr: str = ""):
        self.commands: list[list[str]] = []
        self.code, self.stderr = code, stderr

    def __call__(self, command):
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.code, "", self.stderr)


def test_postgresql_is_dumped_by_pg_dump_and_put_back_by_pg_restore(tmp_path):
    run = Runner()
    saved = database.dump("postgresql+psycopg2://hub@db:5432/hub", tmp_path, run=run)
    assert saved == {
        "kind": "postgresql",
        "file": "database.pgdump",
        "url": "postgresql+psycopg2://hub@db:5432/hub",
    }
    assert run.commands == [["pg_dump", "--format=custom", "--no-password",
                             f"--file={tmp_path}/database.pgdump", "postgresql://hub@db:5432/hub"]]  # fmt: skip
    database.put_back(saved, tmp_path, tmp_path, "postgres://hub@newdb/hub", run=run)
    assert run.commands[1][:4] == [
        "pg_restore",
        "--no-password",
        "--exit-on-error",
        "--single-transaction",
    ]
    assert run.commands[1][4:] == [
        "--dbname=postgresql://hub@newdb/hub",
        f"{tmp_path}/database.pgdump",
    ]


def test_a_failing_dump_says_what_the_tool_said(tmp_path):
    with pytest.raises(BackupError, match="pg_dump failed \\(1\\): connection refused"):
        database.dump("postgresql://hub@db/hub", tmp_path, run=Runner(1, "connection refused"))


def test_a_database_neither_sqlite_nor_postgresql_is_refused(tmp_path):
    with pytest.raises(BackupError, match="mysql:// cannot be backed up; use SQLite or PostgreSQL"):
        database.dump("mysql://hub@db/hub", tmp_path)


def test_sqlite_is_copied_by_its_online_backup_while_written(tmp_path):
    live = tmp_path / "jupyterhub.sqlite"
    writer = sqlite3.connect(live)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (n INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    writer.execute("INSERT INTO t VALUES (2)")  # not committed: not in the copy
    (tmp_path / "copy").mkdir()
    assert database.dump(f"sqlite:///{live}", tmp_path / "copy") == {
        "kind": "sqlite",
        "file": "jupyterhub.sqlite",
    }
    copy = sqlite3.connect(tmp_path / "copy" / "jupyterhub.sqlite")
    assert copy.execute("SELECT n FROM t").fetchall() == [(1,)]
    writer.rollback()
