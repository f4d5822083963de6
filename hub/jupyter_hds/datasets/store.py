"""Datasets on disk: `datasets/<name>/<version>/`, immutable once published, and their manifests.

An import builds in a private folder beside the versions (`<name>/.build-*`, 0700) and
publishes it by one rename, so a version is whole or absent. One import per dataset at a
time: `datasets/.locks/<name>.lock` is held (flock) for the whole import and names its pid.
Published files are 0444 and folders 0555; the spawner mounts a version folder read-only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ImportRefused
from .names import DATASET_NAME, Reference, check_name, parse_reference

MANIFEST = "manifest.json"
BUILD_PREFIX = ".build-"


@dataclass
class Version:
    name: str
    version: int
    path: Path
    manifest: dict[str, Any] = field(repr=False)


class DatasetStore:
    """The datasets folder of a deployment (`Deployment().datasets`)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def versions(self, name: str) -> list[int]:
        """Published versions of `name`, oldest first (empty when it has none)."""
        folder = self.root / check_name(name)
        if not folder.is_dir():
            return []
        found = (p.name for p in folder.iterdir() if p.is_dir())
        return sorted(int(n) for n in found if n.isdigit() and not n.startswith("0"))

    def resolve(self, reference: Reference | str) -> Path:
        """The version folder `reference` names (`name` is its highest version)."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        folder = self.root / ref.name
        if folder.is_symlink() or (
            folder.exists() and folder.resolve().parent != self.root.resolve()
        ):
            raise FileNotFoundError(
                f"dataset {ref.name} points outside {self.root} (a link?): datasets are "
                "imported into it, never linked"
            )
        versions = self.versions(ref.name)
        if not versions:
            raise FileNotFoundError(f"there is no dataset {ref.name!r}; import it first")
        if ref.version is None:
            return self.root / ref.name / str(versions[-1])
        if ref.version not in versions:
            raise FileNotFoundError(
                f"dataset {ref.name} has no version {ref.version}; it has "
                f"{', '.join(map(str, versions))}"
            )
        return self.root / ref.name / str(ref.version)

    def get(self, reference: Reference | str) -> Version:
        path = self.resolve(reference)
        manifest = json.loads((path / MANIFEST).read_text())
        return Version(path.parent.name, int(path.name), path, manifest)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        folders = (p.name for p in self.root.iterdir() if p.is_dir() and DATASET_NAME.match(p.name))
        return sorted(name for name in folders if self.versions(name))

    def list(self) -> list[Version]:
        """Every published version of every dataset, with its manifest."""
        return [self.get(Reference(n, v)) for n in self.names() for v in self.versions(n)]

    @contextlib.contextmanager
    def building(self, name: str) -> Iterator[Build]:
        """A locked, private build folder for `name`; removed unless published."""
        check_name(name)
        with self._lock(name):
            folder = self.root / name
            created = not folder.exists()
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            for stale in folder.glob(f"{BUILD_PREFIX}*"):  # a crashed import's leftovers
                _remove(stale)
            build = Build(
                self, name, folder / f"{BUILD_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            )
            build.path.mkdir(mode=0o700)
            try:
                yield build
            finally:
                if build.path.exists():
                    _remove(build.path)
                if created and build.version is None:
                    with contextlib.suppress(OSError):
                        folder.rmdir()

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise ImportRefused(
                    f"dataset {name}: another import of it is running (pid {holder}); "
                    "wait for it to finish"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock


@dataclass
class Build:
    """An import's private folder: tables are written here, then published as one version."""

    store: DatasetStore
    name: str
    path: Path
    version: int | None = None

    @property
    def spill(self) -> Path:
        """Where DuckDB may spill to disk: inside the private folder, removed with it."""
        return self.path / ".spill"

    def next_version(self) -> int:
        versions = self.store.versions(self.name)
        return versions[-1] + 1 if versions else 1

    def publish(self, manifest: dict[str, Any]) -> tuple[int, Path, bytes]:
        """Write the manifest, make everything read-only, rename into the next version."""
        if self.spill.exists():
            shutil.rmtree(self.spill)
        version = self.next_version()
        manifest = {**manifest, "version": version}
        data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        (self.path / MANIFEST).write_bytes(data)
        for item in self.path.iterdir():
            _seal(item, 0o444)
        _seal(self.path, 0o555)
        target = self.path.parent / str(version)
        if target.exists():  # cannot happen under the lock; never replace a version
            raise ImportRefused(f"dataset {self.name}: version {version} exists already")
        os.rename(self.path, target)
        _fsync(self.path.parent)
        self.version = version
        return version, target, data


def _seal(path: Path, mode: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def _fsync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a build folder, read-only parts included."""
    for folder, _, _ in os.walk(path):
        os.chmod(folder, 0o700)
    shutil.rmtree(path)
