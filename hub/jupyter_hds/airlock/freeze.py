"""Freezing a request: each file copied from the project's storage, never through a link.

The researcher's server names the files and their size and sha256; the hub trusts none of
it. It opens each file from the host side of the project's storage one path component at a
time with O_NOFOLLOW (a symbolic link anywhere is refused, so nothing can point into the
dataset or another member's space), refuses what is not a regular file or is one of the
dataset's files, and copies the bytes while hashing them: a file whose size or sha256 is not
what the server said (changed since, or while copying) is refused. Notebooks lose their
outputs when asked. Everything is copied into the folder being built, or nothing is.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..policy.airlock import Draft, FileClaim
from ..policy.refusal import Refused

CHUNK = 1024 * 1024
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Sources:
    """Where a member's folders are on the hub's host, and the dataset that never leaves."""

    projects_root: Path
    project: str
    member_folder: str
    dataset: Path | None = None

    def start(self, folder: str) -> tuple[str, ...]:
        """Components under `projects_root` of `work` (the member's space) or `shared`."""
        if folder == "shared":
            return (self.project, "shared")
        return (self.project, "users", self.member_folder)


@dataclass(frozen=True)
class FrozenFile:
    """One file as frozen: what was asked, the bytes reviewed (and released), their origin."""

    number: int
    path: str
    description: str
    min_cell_size: int | None
    size: int
    sha256: str
    source_size: int
    source_sha256: str
    stripped: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def freeze(draft: Draft, sources: Sources, files_dir: Path) -> list[FrozenFile]:
    """Copy every file of `draft` into `files_dir` (as 1, 2, ...); or Refused, naming the file."""
    for part in (sources.project, sources.member_folder):
        if not part or "/" in part or part in (".", ".."):
            raise ValueError(f"{part!r} cannot name a folder")
    dataset = dataset_files(sources.dataset)
    frozen = []
    for number, claim in enumerate(draft.files, start=1):
        target = files_dir / str(number)
        fd = open_source(sources, claim)
        try:
            copy(fd, claim, target, dataset)
        finally:
            os.close(fd)
        stripped = False
        if claim.path.endswith(".ipynb") and draft.notebook_outputs == "strip":
            stripped = strip_outputs(target, claim.path)
        data_size, data_sha256 = _measure(target)
        frozen.append(FrozenFile(
            number, claim.path, claim.description, claim.min_cell_size, data_size, data_sha256,
            claim.size, claim.sha256, stripped,
        ))  # fmt: skip
    return frozen


def open_source(sources: Sources, claim: FileClaim) -> int:
    """A read-only descriptor of `claim`'s file, reached without following any link."""
    parts = [*sources.start(claim.folder), *claim.inside.split("/")]
    fd = os.open(sources.projects_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            flags = OPEN_FLAGS | (os.O_NONBLOCK | os.O_NOCTTY if last else os.O_DIRECTORY)
            try:
                step = os.open(part, flags, dir_fd=fd)
            except OSError as error:
                if error.errno == errno.ENOTDIR and _is_link(part, fd):
                    error = OSError(errno.ELOOP, "a symbolic link")  # O_DIRECTORY says ENOTDIR
                raise _refusal(error, claim, index - len(sources.start(claim.folder))) from None
            os.close(fd)
            fd = step
        return fd
    except BaseException:
        os.close(fd)
        raise


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _refusal(error: OSError, claim: FileClaim, depth: int) -> Refused:
    """Why the component at `depth` (0: the first one inside work/ or shared/) did not open."""
    if depth < 0:  # the member's space itself: storage not there (server stopped?)
        return Refused(
            "no-storage", f"The project's storage for {claim.path} cannot be reached "
            f"({error.strerror}).", "Start your server for the project and ask again.",
            status=409,
        )  # fmt: skip
    shown = "/".join([claim.folder, *claim.inside.split("/")[: depth + 1]])
    if error.errno == errno.ELOOP:
        return Refused(
            "symlink", f"{claim.path}: {shown} is a symbolic link. The airlock never follows "
            "links (one could point into the dataset or someone else's files).",
            "Copy the file itself into work/ and ask again.",
        )  # fmt: skip
    if error.errno == errno.ENOENT:
        return Refused("missing", f"{claim.path} does not exist (no {shown}).",
                       "Choose the file again in the file browser.", status=404)  # fmt: skip
    if error.errno == errno.ENOTDIR:
        return Refused("not-a-file", f"{claim.path}: {shown} is not a folder.", status=400)
    return Refused("unreadable", f"{claim.path} cannot be read ({error.strerror}).", status=400)


def copy(fd: int, claim: FileClaim, target: Path, dataset: frozenset[tuple[int, int]]) -> None:
    """Copy `fd`'s bytes to `target`, checking them against `claim` as they are read."""
    before = os.fstat(fd)
    if stat.S_ISDIR(before.st_mode):
        raise Refused("not-a-file", f"{claim.path} is a folder: choose the files inside it.",
                      status=400)  # fmt: skip
    if not stat.S_ISREG(before.st_mode):
        raise Refused("not-a-file", f"{claim.path} is not a regular file.", status=400)
    if (before.st_dev, before.st_ino) in dataset:
        raise _dataset(claim)
    if before.st_size != claim.size:
        raise changed(claim, f"it is {before.st_size:,} bytes, not {claim.size:,}")
    digest, size = hashlib.sha256(), 0
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        while chunk := os.read(fd, CHUNK):
            size += len(chunk)
            if size > claim.size:
                raise changed(claim, "it grew while it was copied")
            digest.update(chunk)
            _write_all(out, chunk)
        os.fsync(out)
    finally:
        os.close(out)
    after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise changed(claim, "it was written to while it was copied")
    if size != claim.size or digest.hexdigest() != claim.sha256:
        raise changed(claim, "its content is not what your server checked")


def changed(claim: FileClaim, why: str) -> Refused:
    return Refused(
        "changed", f"{claim.path} changed after it was chosen: {why}. Nothing was frozen.",
        "Wait until it is saved and no longer written to, then ask again.", status=409,
    )  # fmt: skip


def _dataset(claim: FileClaim) -> Refused:
    return Refused(
        "dataset", f"{claim.path} is a file of the project dataset: dataset files never "
        "leave the project.", "Release your own results instead.",
    )  # fmt: skip


def dataset_files(folder: Path | None) -> frozenset[tuple[int, int]]:
    """(device, inode) of every file in the dataset folder: a hard link to one is refused."""
    if folder is None or not folder.is_dir():
        return frozenset()
    found = set()
    for root, _, names in os.walk(folder):
        for name in names:
            info = os.lstat(os.path.join(root, name))
            found.add((info.st_dev, info.st_ino))
    return frozenset(found)


def strip_outputs(target: Path, path: str) -> bool:
    """Drop a notebook's outputs and execution counts in place; True if anything changed."""
    try:
        notebook = json.loads(target.read_bytes())
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise Refused("bad-notebook", f"{path} is not a notebook (its JSON cannot be read), "
                      "so its outputs cannot be stripped.", "Save it from JupyterLab, or "
                      "choose to keep outputs.", status=400) from None  # fmt: skip
    changed_any = False
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            changed_any |= bool(cell.get("outputs")) or cell.get("execution_count") is not None
            cell["outputs"], cell["execution_count"] = [], None
    if isinstance(notebook.get("metadata"), dict) and "widgets" in notebook["metadata"]:
        del notebook["metadata"]["widgets"]  # saved widget state holds data too
        changed_any = True
    data = (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()
    partial = target.with_name(target.name + ".stripped")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, target)
    return changed_any


def _measure(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
