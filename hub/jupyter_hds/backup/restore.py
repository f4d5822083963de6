"""`hds backup restore`: a backup becomes a state folder the hub starts on, never mixed.

The new state is built in a folder of its own beside the target (inside it when the target
is a mount point), checked (the audit record's chain and head against the manifest), and
only then put in place: into an empty or missing target, or, with `force`, after the old
state is moved aside whole to `<target>.before-restore-<time>`. A restore refuses while a
hub runs on the target. Its last step puts a `backup.restored` event in the restored
record's inbox: the audit service chains it after the restored head when the hub starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hds_quota.volumes import ProjectVolumes, mounts

from ..audit.verify import Verifier
from . import database, events
from .catalogue import DATASETS_PART, VOLUME_PART, BackupSet, catalogue, find
from .config import Backup
from .create import MANIFEST
from .restic import BackupError, Restic
from .volumes import recreate


class RestoreRefused(BackupError):
    """The restore would overwrite or mix with a state in use; the message says what to do."""


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class RestoreRun:
    """One `hds backup restore`."""

    def __init__(
        self,
        target: Path,
        settings: Backup,
        restic: Restic | None = None,
        force: bool = False,
        config_root: Path | None = None,
        database_url: str | None = None,
        preallocate: bool = False,
        log: Callable[[str], None] = lambda line: None,
    ):
        self.target = Path(target).absolute()
        self.settings, self.force, self.config_root = settings, force, config_root
        self.restic = restic or Restic(settings)
        self.database_url, self.preallocate, self.log = database_url, preallocate, log
        self.report: dict[str, Any] = {}

    def run(self, ref: str) -> dict[str, Any]:
        backup = find(catalogue(self.restic.snapshots()), ref)
        self.check_target()
        began = time.monotonic()
        inside = self.target.is_dir() and os.path.ismount(self.target)
        building = (
            self.target / f".restoring-{backup.id}"
            if inside
            else self.target.parent / f".{self.target.name}.restoring-{backup.id}"
        )
        shutil.rmtree(building, ignore_errors=True)  # a failed restore's leftover: ours by name
        building.mkdir(mode=0o700, parents=True)
        aside = self.target.parent / f".{self.target.name}.config-{backup.id}"
        try:
            manifest = self._build(backup, building)
            config = self._config_destinations(manifest["config"])
            self.report.update(backup=backup.id, snapshot=backup.state.short_id)
            events.record(
                building / "audit", "backup.restored", "succeeded", self._details(manifest)
            )
            saved = building / ".restore" / "config"
            if config:  # kept outside the new state until that is in place
                shutil.rmtree(aside, ignore_errors=True)
                saved = Path(shutil.move(saved, aside))
            shutil.rmtree(building / ".restore")
            self._place(building, inside)
        except BaseException:
            _unmount_under(building)
            shutil.rmtree(building, ignore_errors=True)
            shutil.rmtree(aside, ignore_errors=True)
            raise
        if config:
            self._put_config(saved, config)
        self.report["seconds"] = round(time.monotonic() - began, 3)
        return self.report

    # -- before -----------------------------------------------------------------------------

    def check_target(self) -> None:
        """Refuse a target in use by a hub, or holding a state unless `force`."""
        target = self.target
        if not target.exists():
            return
        if not target.is_dir():
            raise RestoreRefused(f"{target} is not a folder")
        busy = [p for p in mounts() if p.startswith(f"{target}/")]
        if busy:
            raise RestoreRefused(
                f"volumes are mounted under {target} ({', '.join(busy[:3])}): a hub runs on it; "
                "stop it first (systemctl stop jupyter-hds-hub)"
            )
        if _writer_busy(target / "audit" / "writer.lock"):
            raise RestoreRefused(
                f"the audit service of a hub on {target} is running; stop the hub first"
            )
        if any(target.iterdir()) and not self.force:
            raise RestoreRefused(
                f"{target} is not empty: restore into an empty or new folder (--state-dir), or "
                f"add --force to move the current state aside to {target}.before-restore-<time> "
                "first (it is never mixed with the restored one)"
            )

    # -- building the new state ---------------------------------------------------------------

    def _build(self, backup: BackupSet, new: Path) -> dict[str, Any]:
        staged = new / ".restore"
        self.restic.restore(backup.state.id, staged)
        manifest = json.loads((staged / MANIFEST).read_text())
        for entry in sorted((staged / "state").iterdir()):
            entry.rename(new / entry.name)
        url = self.database_url or manifest["database"].get("url", "")
        if manifest["database"]["kind"] != "sqlite":
            database.put_back(manifest["database"], staged, new, url)
        self.log(f"state: database ({manifest['database']['kind']}), audit, usage, keys")
        if DATASETS_PART in backup.parts:
            self.restic.restore(backup.parts[DATASETS_PART].id, new / "datasets")
            self.log("datasets restored")
        self._volumes(backup, manifest, new)
        self._check_audit(manifest, new)
        self._settings(new)
        return manifest

    def _volumes(self, backup: BackupSet, manifest: dict[str, Any], new: Path) -> None:
        volumes = ProjectVolumes(new / "project-volumes", new / "projects", self.preallocate)
        sizes = {v["project"]: v["size"] for v in manifest["volumes"]}
        restored = []
        for part, snapshot in sorted(backup.parts.items()):
            if not part.startswith(VOLUME_PART):
                continue
            project = part[len(VOLUME_PART) :]
            mountpoint = recreate(volumes, project, sizes[project])
            try:
                self.restic.restore(snapshot.id, mountpoint)
            finally:
                if not volumes.unmount(project):
                    raise BackupError(f"could not unmount the restored volume of {project}")
            restored.append(project)
            self.log(f"volume {project} restored")
        live = [v["project"] for v in manifest["volumes"] if v["state"] == "live"]
        self.report.update(volumes=restored, live_volumes=live)

    def _check_audit(self, manifest: dict[str, Any], new: Path) -> None:
        report = Verifier(new / "audit", workers=1).verify()
        expected = manifest["audit"]
        if (report.head_seq, report.head_hash) != (expected["head_seq"], expected["head_hash"]):
            raise BackupError(
                f"the restored audit record ends at seq {report.head_seq}, the backup recorded "
                f"seq {expected['head_seq']}: the backup is damaged; try an older one"
            )
        if report.intact != expected["intact"]:
            raise BackupError("the restored audit record does not verify as it did when saved")
        self.report["audit"] = {
            "entries": report.entries,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "intact": report.intact,
        }

    def _settings(self, new: Path) -> None:
        """The published settings name the folder they are restored to (the hub rewrites
        them at its next start; `hds` reads them before that)."""
        path = new / "hds-settings.json"
        if path.is_file():
            values = json.loads(path.read_text())
            values.setdefault("Deployment", {})["state_dir"] = str(self.target)
            path.write_text(json.dumps(values, indent=2, sort_keys=True))

    def _config_destinations(self, paths: list[str]) -> dict[str, Path]:
        """Where each saved configuration path goes under `config_root`, checked first."""
        if self.config_root is None:
            return {}
        places = {path: self.config_root / Path(path).relative_to("/") for path in paths}
        taken = [str(place) for place in places.values() if place.exists()]
        if taken and not self.force:
            raise RestoreRefused(
                f"{', '.join(taken)} exist(s): add --force to move them aside to "
                "<name>.before-restore-<time>, or restore elsewhere (--config-root "
                "/root/restored-config) and compare"
            )
        return places

    def _put_config(self, saved: Path, places: dict[str, Path]) -> None:
        """Write the saved configuration where it was (under `config_root`)."""
        for path, destination in places.items():
            if destination.exists():
                destination.rename(f"{destination}.before-restore-{stamp()}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(saved / Path(path).relative_to("/"), destination)
        shutil.rmtree(saved)
        self.report["config"] = [str(p) for p in places.values()]

    def _details(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return {
            "backup": manifest["backup"],
            "snapshot": self.report.get("snapshot"),
            "from_host": manifest["host"],
            "from_state_dir": manifest["state_dir"],
            "state_dir": str(self.target),
            "audit_head_seq": manifest["audit"]["head_seq"],
            "volumes": self.report.get("volumes", []),
        }

    # -- putting it in place ----------------------------------------------------------------

    def _place(self, new: Path, inside: bool) -> None:
        target = self.target
        aside = target.with_name(f"{target.name}.before-restore-{stamp()}")
        if inside:  # a mount point stays: its old entries go into a folder of their own
            old = [e for e in target.iterdir() if e != new]
            if old:
                keep = target / f".before-restore-{stamp()}"
                keep.mkdir(mode=0o700)
                for entry in old:
                    entry.rename(keep / entry.name)
                self.report["moved_aside"] = str(keep)
            for entry in new.iterdir():
                entry.rename(target / entry.name)
            new.rmdir()
            return
        if target.exists():
            if any(target.iterdir()):
                target.rename(aside)
                self.report["moved_aside"] = str(aside)
            else:
                target.rmdir()
        new.rename(target)
        target.chmod(0o700)


def _unmount_under(folder: Path) -> None:
    """Unmount what a failed restore left mounted in its own folder."""
    for path in sorted((p for p in mounts() if p.startswith(f"{folder}/")), reverse=True):
        subprocess.run(["umount", path], capture_output=True)


def _writer_busy(lock: Path) -> bool:
    """Whether a process holds the audit record's writer lock (the audit service runs)."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
