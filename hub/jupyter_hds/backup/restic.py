"""The restic command, run for `hds backup`: repository, password and cache from `Backup`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Backup

BACKEND = re.compile(r"^(local|sftp|rest|s3|b2|azure|gs|swift|rclone):")
# restic backup: 3 means "some files could not be read", yet a snapshot was saved.
INCOMPLETE = 3


class BackupError(RuntimeError):
    """A backup or restore step failed; the message says which and what to do."""


def read_env_file(path: str) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped), as systemd's EnvironmentFile."""
    values = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise BackupError(f"{path} line {number}: write KEY=VALUE")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def local_absolute(repository: str) -> str:
    """A local repository as an absolute path (restic runs in the folder it backs up)."""
    if BACKEND.match(repository):
        return repository
    return str(Path(repository).absolute())


class Restic:
    """One repository, reached with the operator's password file."""

    def __init__(self, settings: Backup, executable: str = "restic"):
        self.settings = settings
        self.executable = executable

    def environment(self) -> dict[str, str]:
        settings = self.settings
        password = Path(settings.password_file)
        if not password.is_file():
            raise BackupError(
                f"no backup password at {password}: create one (umask 077; "
                f"openssl rand -base64 32 > {password}), keep a copy away from this host, "
                "or set c.Backup.password_file"
            )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RESTIC_", "AWS_", "B2_", "AZURE_", "GOOGLE_"))
        }
        if settings.credentials_file:
            env.update(read_env_file(settings.credentials_file))
        env.update(
            RESTIC_REPOSITORY=local_absolute(settings.repository),
            RESTIC_PASSWORD_FILE=str(password.absolute()),
            RESTIC_CACHE_DIR=settings.cache_dir,
        )
        return env

    def run(
        self, *args: str, cwd: Path | None = None, ok: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess:
        if not shutil.which(self.executable):
            raise BackupError(
                "restic is not installed: run scripts/ensure-host.sh (Debian's restic)"
            )
        done = subprocess.run(
            [self.executable, *args],
            cwd=cwd,
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if done.returncode not in ok:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise BackupError(
                f"restic {args[0]} failed ({done.returncode}): " + " / ".join(message[-5:])
            )
        return done

    # -- the repository -------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the repository is there; an error when it is but cannot be opened."""
        done = subprocess.run(
            [self.executable, "cat", "config"],
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return True
        if "Is there a repository at the following location?" in done.stderr:
            return False
        raise BackupError(
            f"the repository {self.settings.repository} cannot be opened: "
            + " / ".join(done.stderr.strip().splitlines()[-2:])
        )

    def init(self) -> None:
        self.run("init")

    def snapshots(self) -> list[dict[str, Any]]:
        return json.loads(self.run("snapshots", "--json").stdout or "[]")

    def backup(
        self,
        folder: Path,
        tags: dict[str, str],
        parent: str | None = None,
        excludes: Sequence[str] = (),
        staged: bool = False,
    ) -> dict[str, Any]:
        """Back up the contents of `folder` (stored relative to it); restic's summary.

        `staged`: the files are fresh copies, so restic compares them with the parent
        snapshot by size and mtime only (inode and ctime change at every copy).
        """
        args = ["backup", "--json", "--quiet", "."]
        args += [f"--tag={key}={value}" for key, value in tags.items()]
        args += [f"--exclude={pattern}" for pattern in excludes]
        if parent:
            args.append(f"--parent={parent}")
        if staged:
            args += ["--ignore-inode", "--ignore-ctime"]
        done = self.run(*args, cwd=folder, ok=(0, INCOMPLETE))
        if done.returncode == INCOMPLETE:
            raise PartialSnapshot(done.stderr.strip())
        return summary_of(done.stdout)

    def restore(self, snapshot: str, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        self.run("restore", snapshot, "--target", str(target), "--quiet")

    def forget(self, snapshot_ids: Sequence[str], prune: bool = False) -> None:
        if snapshot_ids:
            self.run("forget", *(["--prune"] if prune else []), *snapshot_ids)

    def check(self, read_data_subset: str | None = None) -> str:
        args = ["check"] + ([f"--read-data-subset={read_data_subset}"] if read_data_subset else [])
        return self.run(*args).stdout

    def stats(self) -> dict[str, Any]:
        return json.loads(self.run("stats", "--json", "--mode", "raw-data").stdout)


class PartialSnapshot(BackupError):
    """restic saved a snapshot that misses files it could not read."""

    def __init__(self, reason: str):
        last = reason.splitlines()[-1] if reason else "no reason given"
        super().__init__(f"restic could not read every file, so the snapshot is partial: {last}")


def summary_of(output: str) -> dict[str, Any]:
    """The `summary` message of `restic backup --json`."""
    for line in reversed(output.splitlines()):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("message_type") == "summary":
            return message
    raise BackupError(f"restic backup gave no summary: {output[-500:]!r}")
