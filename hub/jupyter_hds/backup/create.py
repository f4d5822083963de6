"""`hds backup create`: everything needed to rebuild the service, written as one backup.

Parts, in order: the datasets (read in place: versions never change), each project volume
(read under its lock, frozen when in use: `volumes.py`), then the state part, staged to
files: the database copy, the audit record and its head, the usage ledger, project keys,
the airlock's releases, the published settings, the hub's secret files, the operator's
configuration, and a manifest of the whole. The state part is written last and marks the
backup complete; if any step fails, every snapshot of the backup is forgotten, so the
repository never holds a partial backup (one left by a killed run is forgotten next time).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hds_quota.volumes import ProjectVolumes

from ..deployment import Deployment
from . import database, staging
from .catalogue import (
    BACKUP_TAG,
    DATASETS_PART,
    PART_TAG,
    SIZE_TAG,
    STATE_PART,
    BackupSet,
    catalogue,
    complete,
    incomplete,
    new_backup_id,
    to_forget,
    volume_part,
)
from .config import Backup
from .restic import BackupError, Restic
from .volumes import LIVE, reading, unmount_leftovers

FORMAT = 1
MANIFEST = "manifest.json"
LIVE_TAG = "hds-live"
# Files of the state folder's top level that a backup keeps, when they exist.
STATE_FILES = ("hds-settings.json", "jupyterhub_cookie_secret", "jupyterhub_crypt_key")
DATASET_EXCLUDES = (".build-*", ".locks")


def work_folder(deployment: Deployment) -> Path:
    """The backup's own folder in the state folder: its lock, staging and read points."""
    return deployment.state / ".backup"


@contextmanager
def exclusive(folder: Path):
    """One backup at a time per state folder."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise BackupError(f"another backup (pid {holder}) is running; wait for it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


class BackupRun:
    """One `hds backup create`."""

    def __init__(
        self,
        deployment: Deployment,
        settings: Backup,
        restic: Restic | None = None,
        preallocate: bool = False,
        log: Callable[[str], None] = lambda line: None,
    ):
        self.deployment, self.settings = deployment, settings
        self.restic = restic or Restic(settings)
        self.volumes = ProjectVolumes(deployment.volumes, deployment.projects, preallocate)
        self.work = work_folder(deployment)
        self.log = log
        self.id = ""
        self.manifest: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        """Write one complete backup; its manifest (with `parts`, `size` and timings)."""
        started = datetime.now(UTC)
        if not self.deployment.state.is_dir():
            raise BackupError(
                f"no state folder at {self.deployment.state}: name it with --state-dir"
            )
        with exclusive(self.work):
            unmount_leftovers(self.work / "volumes")
            if not self.restic.exists():
                self.log(f"initialising the restic repository {self.settings.repository}")
                self.restic.init()
            backups = catalogue(self.restic.snapshots())
            self._forget(incomplete(backups))
            done = complete(backups)
            previous = done[-1] if done else None
            self.id = new_backup_id(started)
            if any(b.id == self.id for b in backups):
                raise BackupError(f"a backup {self.id} exists already; try again in a second")
            try:
                self._write(started, previous)
            except BaseException:
                self._forget_this_run()
                raise
            finally:
                shutil.rmtree(self.work / "staging", ignore_errors=True)
            self._apply_retention()
        return self.manifest

    # -- the parts ------------------------------------------------------------------------

    def _write(self, started: datetime, previous: BackupSet | None) -> None:
        state = self.deployment.state
        self.manifest = {
            "format": FORMAT,
            "backup": self.id,
            "started": started.isoformat(),
            "host": socket.gethostname(),
            "state_dir": str(state),
            "software": _versions(),
            "parts": {},
            "volumes": [],
        }
        parents = previous.parts if previous else {}
        datasets = self.deployment.datasets
        if datasets.is_dir() and any(datasets.iterdir()):
            self._part(DATASETS_PART, datasets, parents, excludes=DATASET_EXCLUDES)
        for project in self.volumes.projects():
            at = self.work / "volumes" / project
            with reading(
                self.volumes,
                project,
                at,
                self.settings.freeze_volumes,
                self.settings.freeze_timeout,
            ) as read:
                self._part(volume_part(project), at, parents, excludes=(f"{at}/lost+found",))
            self.manifest["volumes"].append(read.to_dict())
            self.log(f"volume {project}: {read.state} {read.note}".rstrip())
        folder = self._stage()
        live = [v["project"] for v in self.manifest["volumes"] if v["state"] == LIVE]
        tags = {SIZE_TAG: str(self.manifest["size"])} | ({LIVE_TAG: "+".join(live)} if live else {})
        self._part(STATE_PART, folder, parents, staged=True, tags=tags)

    def _part(
        self,
        name: str,
        folder: Path,
        parents: dict,
        excludes: tuple[str, ...] = (),
        staged: bool = False,
        tags: dict[str, str] | None = None,
    ) -> None:
        began = time.monotonic()
        parent = parents.get(name)
        summary = self.restic.backup(
            folder,
            {BACKUP_TAG: self.id, PART_TAG: name, **(tags or {})},
            parent=parent.id if parent else None,
            excludes=excludes,
            staged=staged,
        )
        self.manifest["parts"][name] = {
            "snapshot": summary.get("snapshot_id"),
            "files": summary.get("total_files_processed"),
            "bytes": summary.get("total_bytes_processed"),
            "added": summary.get("data_added"),
            "seconds": round(time.monotonic() - began, 3),
        }
        self.log(f"{name}: {summary.get('total_bytes_processed')} bytes")

    def _stage(self) -> Path:
        """The state part's files, in `staging/`, and the manifest; the folder."""
        deployment, folder = self.deployment, self.work / "staging"
        shutil.rmtree(folder, ignore_errors=True)
        state = folder / "state"
        state.mkdir(mode=0o700, parents=True)
        began = time.monotonic()
        url = self.settings.database(deployment)
        self.manifest["database"] = database.dump(
            url, state if database.kind(url) == "sqlite" else folder
        )
        self.manifest["audit"] = staging.stage_audit(deployment.audit, state / "audit")
        self.manifest["usage"] = staging.stage_ledger(deployment.usage, state / "usage")
        for name, source in (("keys", deployment.keys), ("releases", deployment.releases)):
            if source.exists():
                staging.copy_tree(source, state / name)
        files = [n for n in STATE_FILES if (deployment.state / n).is_file()]
        for name in files:
            shutil.copy2(deployment.state / name, state / name)
        self.manifest["files"] = files
        self.manifest["config"] = self._stage_config(folder / "config")
        self.manifest["staging_seconds"] = round(time.monotonic() - began, 3)
        staged = staging.disk_bytes(folder)
        self.manifest["size"] = staged + sum(
            p["bytes"] or 0 for p in self.manifest["parts"].values()
        )
        self.manifest["finished"] = datetime.now(UTC).isoformat()
        (folder / MANIFEST).write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
        return folder

    def _stage_config(self, target: Path) -> list[str]:
        """The operator's configuration outside the state folder (never the backup password)."""
        saved = []
        secret = Path(self.settings.password_file).resolve()
        for text in self.settings.config_paths:
            path = Path(text)
            if not path.is_absolute() or not path.exists():
                continue
            copied = target / path.relative_to("/")
            staging.copy_tree(path, copied)
            for found in [copied, *copied.rglob("*")] if copied.is_dir() else [copied]:
                if found.is_file() and _same_file(found, secret, path, copied):
                    found.unlink()
            saved.append(str(path))
        return saved

    # -- the repository -------------------------------------------------------------------

    def _forget(self, backups: list[BackupSet], prune: bool = False) -> None:
        ids = [i for b in backups for i in b.snapshot_ids()]
        if ids:
            self.log(f"forgetting {len(ids)} snapshot(s) of {', '.join(b.id for b in backups)}")
            self.restic.forget(ids, prune=prune)

    def _forget_this_run(self) -> None:
        try:
            mine = [b for b in catalogue(self.restic.snapshots()) if b.id == self.id]
            self._forget(mine)
        except BackupError as error:
            self.log(f"could not forget the snapshots of the failed backup {self.id}: {error}")

    def _apply_retention(self) -> None:
        """Forget the backups the policy drops; a failure here leaves the new backup whole."""
        keep = self.settings
        try:
            backups = catalogue(self.restic.snapshots())
            dropped = to_forget(backups, keep.keep_last, keep.keep_daily, keep.keep_monthly)
            self._forget(dropped, prune=True)
        except BackupError as error:
            self.log(f"retention not applied: {error}")
            self.manifest["retention_error"] = str(error)
            return
        self.manifest["forgotten"] = [b.id for b in dropped]


def _same_file(found: Path, secret: Path, source: Path, copied: Path) -> bool:
    """Whether the staged `found` is the copy of the backup password file."""
    original = source / found.relative_to(copied) if found != copied else source
    return original.resolve() == secret


def _versions() -> dict[str, str]:
    names = ("jupyter-hds", "jupyterhub", "dockerspawner")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found
