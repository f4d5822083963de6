"""The files of a release request on disk: where they really are, their size and sha256.

Paths are resolved (symbolic links followed) before any check, so a link in ~/work that
points into the dataset, or out of the home folder, is refused like its target.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import PurePosixPath

from .request import Draft, FileEntry, RequestRefused

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Folders:
    """Where releasable files live under the contents root, and the dataset, which never leaves."""

    root_dir: str
    release_dirs: tuple[str, ...]
    dataset_dir: str

    def resolved(self, relative: str) -> str:
        return os.path.realpath(os.path.join(self.root_dir, relative))

    def describe(self) -> str:
        return " or ".join(f"{d}/" for d in self.release_dirs)


@dataclass(frozen=True)
class CheckedFile:
    """A file ready to be sent: `path` is where it really is, relative to the contents root."""

    path: str
    description: str
    min_cell_size: int | None
    size: int
    sha256: str


def check_folder_name(value: str, setting: str) -> str:
    """`value` as a clean folder name relative to the contents root, or ValueError saying why."""
    text = value.strip()
    path = PurePosixPath(text)
    if not text or text.startswith("/") or str(path) == "." or ".." in path.parts:
        raise ValueError(f"{setting} {value!r} must name a folder inside the server's root_dir, "
                         "relative to it and without '..', e.g. 'work'")  # fmt: skip
    return str(path)


def check_files(draft: Draft, folders: Folders, max_bytes: int) -> list[CheckedFile]:
    """Locate every file, check the total size, then hash them; raise RequestRefused if not."""
    located = [(entry, *locate(entry.path, folders)) for entry in draft.files]
    _no_file_twice([(entry.path, real) for entry, real, _ in located])
    total = sum(size for _, _, size in located)
    if total > max_bytes:
        raise _too_large(total, max_bytes)
    checked = []
    budget = max_bytes
    for entry, real, _ in located:
        size, digest = _size_and_sha256(entry.path, real, budget)
        budget -= size
        checked.append(_checked(entry, os.path.relpath(real, folders.resolved(".")), size, digest))
    return checked


def locate(path: str, folders: Folders) -> tuple[str, int]:
    """Where `path`, a regular file in a release folder, really is, and its size.

    Raises RequestRefused for anything else.
    """
    if path.startswith("/") or "\x00" in path:
        raise RequestRefused(f"{path!r}: write the path relative to your home folder, e.g. "
                             "work/table.csv.")  # fmt: skip
    if ".." in PurePosixPath(path).parts:
        raise RequestRefused(f"{path}: '..' is not allowed in a path. Name the file as it "
                             f"appears in your {folders.describe()} folder.")  # fmt: skip
    real = folders.resolved(path)
    if _within(real, folders.resolved(folders.dataset_dir)):
        raise RequestRefused(f"{path} is in the project dataset or links into it: dataset "
                             "files never leave the project. Release your own results, saved "
                             f"in {folders.describe()}, instead.", status=403)  # fmt: skip
    if not any(_within(real, folders.resolved(d)) for d in folders.release_dirs):
        raise RequestRefused(f"{path} is not in your {folders.describe()} folder (links are "
                             "followed): only files there can be released. Save the result "
                             f"in {folders.release_dirs[0]}/ first.", status=403)  # fmt: skip
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise RequestRefused(f"{path} does not exist: was it renamed or deleted? Choose the "
                             "file again in the file browser.", status=404) from None  # fmt: skip
    except OSError as error:
        raise RequestRefused(f"{path} cannot be read ({error.strerror}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise RequestRefused(f"{path} is a folder: choose the files inside it (a request "
                             "holds files, not folders).")  # fmt: skip
    if not stat.S_ISREG(info.st_mode):
        raise RequestRefused(f"{path} is not a regular file; only files can be released.")
    return real, info.st_size


def _no_file_twice(paths: list[tuple[str, str]]) -> None:
    """Refuse two names (a link and its target, say) for one file."""
    named: dict[str, str] = {}
    for path, real in paths:
        if real in named:
            raise RequestRefused(f"{named[real]} and {path} are the same file (one links to "
                                 "the other); list it once.")  # fmt: skip
        named[real] = path


def _size_and_sha256(path: str, real: str, budget: int) -> tuple[int, str]:
    """Hash the file from one open descriptor; refuse it if it is replaced or grows too large."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        message = f"{path} cannot be read ({error.strerror}); try again once it is saved."
        raise RequestRefused(message) from None
    digest, size = hashlib.sha256(), 0
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise RequestRefused(f"{path} is not a regular file; only files can be released.")
        while chunk := file.read(CHUNK):
            size += len(chunk)
            if size > budget:
                raise RequestRefused(f"{path} grew while it was being checked and the request "
                                     "is now over its size limit. Try again once it is "
                                     "saved.", status=413)  # fmt: skip
            digest.update(chunk)
    return size, digest.hexdigest()


def _checked(entry: FileEntry, path: str, size: int, sha256: str) -> CheckedFile:
    return CheckedFile(path, entry.description, entry.min_cell_size, size, sha256)


def _too_large(total: int, limit: int) -> RequestRefused:
    return RequestRefused(f"These files come to {_size(total)}; a request may hold at most "
                          f"{_size(limit)} (AirlockApp.max_request_bytes). Release fewer or "
                          "smaller files, such as summary tables rather than row-level "
                          "data.", status=413)  # fmt: skip


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size:,} bytes"
    return f"{size / 1024 / 1024:.1f} MiB ({size:,} bytes)"


def _within(path: str, folder: str) -> bool:
    """True when `path` is `folder` or lies in it (both resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
