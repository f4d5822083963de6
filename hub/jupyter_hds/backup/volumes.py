"""Reading a project volume consistently for a backup, and making one again on restore.

A backup reads each volume at its own mount point (`.backup/volumes/<project>` in the state
folder), one at a time, holding the volume's lock so the hub neither mounts nor resizes it
meanwhile (a server start of that project waits):

- a volume not in use is mounted there read-only: nothing writes to it;
- a volume in use is bind-mounted there and frozen (`fsfreeze`) while restic reads it, so
  the copy is one moment of the filesystem; researchers' writes wait until it is thawed. A
  watchdog process thaws it after `freeze_timeout` seconds even if the backup is killed.
  Where freezing is off or fails, the volume is read live and the backup says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hds_quota.volumes import MOUNT_OPTIONS, ProjectVolumes, mounts

from .restic import BackupError

IDLE, FROZEN, LIVE = "idle", "frozen", "live"


@dataclass
class VolumeRead:
    """One volume as read by a backup: where, its figures, and how consistent the copy is."""

    project: str
    path: Path
    size: int
    used: int
    state: str
    note: str = ""
    frozen_seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "project": self.project, "size": self.size, "used": self.used,
            "state": self.state, "note": self.note,
            "frozen_seconds": round(self.frozen_seconds, 3),
        }  # fmt: skip


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{' '.join(command)} failed: {done.stderr.strip()}")


def is_mountpoint(path: Path) -> bool:
    return str(path) in mounts()


def unmount_leftovers(folder: Path) -> list[str]:
    """Unmount read points a killed backup left under `folder`; their paths."""
    left = [p for p in mounts() if p.startswith(f"{folder}/")]
    for path in sorted(left, reverse=True):
        subprocess.run(["fsfreeze", "-u", path], capture_output=True)
        subprocess.run(["umount", path], capture_output=True)
    return left


@contextlib.contextmanager
def reading(
    volumes: ProjectVolumes, project: str, at: Path, freeze: bool, timeout: int
) -> Iterator[VolumeRead]:
    """The volume of `project` readable at `at` and not changing while the block runs."""
    at.mkdir(mode=0o700, parents=True, exist_ok=True)
    with volumes.locked(project):
        usage = volumes.usage(project)
        if usage is None:
            raise BackupError(f"project {project} has no volume image to back up")
        read = VolumeRead(project, at, usage.size, usage.used, IDLE)
        if usage.mounted:
            _run("mount", "--bind", str(volumes.mountpoint(project)), str(at))
        else:
            options = f"{MOUNT_OPTIONS},ro,noload"
            _run("mount", "-o", options, str(volumes.image(project)), str(at))
        try:
            if usage.mounted:
                with _frozen(read, freeze, timeout):
                    yield read
            else:
                yield read
        finally:
            _run("umount", str(at))


@contextlib.contextmanager
def _frozen(read: VolumeRead, freeze: bool, timeout: int) -> Iterator[None]:
    """Freeze the volume at `read.path` for the block, with a watchdog that thaws it."""
    read.state = LIVE
    if not freeze:
        read.note = "in use; read live (c.Backup.freeze_volumes is False)"
        yield
        return
    watchdog = subprocess.Popen(
        ["sh", "-c", f'sleep {int(timeout)}; fsfreeze -u "$0" && echo thawed', str(read.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives this process if it is killed
    )
    done = subprocess.run(["fsfreeze", "-f", str(read.path)], capture_output=True, text=True)
    if done.returncode != 0:
        os.killpg(watchdog.pid, signal.SIGKILL)
        watchdog.wait()
        read.note = f"in use; read live (fsfreeze failed: {done.stderr.strip()})"
        yield
        return
    read.state, started = FROZEN, time.monotonic()
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(watchdog.pid, signal.SIGKILL)  # the shell and its sleep
        fired = (watchdog.communicate()[0] or b"").strip() == b"thawed"
        subprocess.run(["fsfreeze", "-u", str(read.path)], capture_output=True)
        read.frozen_seconds = time.monotonic() - started
        if fired:
            read.state = LIVE
            read.note = f"in use; thawed by the watchdog after {timeout} s while still being read"


def recreate(volumes: ProjectVolumes, project: str, size: int) -> Path:
    """A new, empty volume of `size` bytes for `project`, mounted; its mount point."""
    if volumes.image(project).exists():
        raise BackupError(f"{volumes.image(project)} exists: a restore only fills a new state")
    volumes.ensure(project, size, in_use=False)
    return volumes.mountpoint(project)
