"""Durable append-only JSON lines: whole lines under a lock, fsynced; a torn last line stays alone.

Writers in several processes may append to one file at once: each append takes an exclusive
`flock`, writes whole lines and `fsync`s before it returns, so what `append` was given
survives a crash once it returns. A crash in the middle of a write leaves at most one
unfinished last line; the next append starts on a new line, so the torn bytes stay alone on
theirs, and readers skip them (`read` hands them back apart from the complete lines).

Files are opened without following a symbolic link and without blocking, and must be
regular files: a folder, a FIFO, a socket or a link put in a file's place is an error
(`NotRegularFile`), never a silent loss nor a writer blocked forever on a FIFO.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotRegularFile(OSError):
    """Something other than a regular file (folder, FIFO, socket, link) is at a journal's path."""


def encode(record: dict[str, Any], **dumps: Any) -> bytes:
    """One JSON line (compact unless `dumps` says otherwise), ready for `append`."""
    dumps.setdefault("separators", (",", ":"))
    dumps.setdefault("ensure_ascii", False)
    return (json.dumps(record, **dumps) + "\n").encode()


def fsync_dir(folder: Path | str) -> None:
    """Make a folder's new or removed entries durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append(
    path: Path | str,
    lines: Iterable[bytes],
    *,
    fsync: bool = True,
    mode: int = 0o600,
    folder_mode: int = 0o700,
    attempts: int = 100,
) -> None:
    """Append `lines` (each ending with a newline) to `path`; durable when this returns.

    Creates the file (and its folders) when missing. If the file is renamed between open
    and lock (a reader claimed it), the lines go to the new file at `path` instead.
    """
    path = Path(path)
    data = b"".join(lines)
    if not data:
        return
    if not data.endswith(b"\n"):
        raise ValueError("journal lines must each end with a newline")
    for _ in range(attempts):
        fd, created = _open_for_append(path, mode, folder_mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _still_at(path, fd):
                continue  # renamed (claimed) between open and lock: write to the new file
            end = os.lseek(fd, 0, os.SEEK_END)
            if end and os.pread(fd, 1, end - 1) != b"\n":
                data = b"\n" + data  # a torn line from a crash stays alone on its line
            _write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if created and fsync:
            fsync_dir(path.parent)  # the new file's name is durable too
        return
    raise OSError(errno.EAGAIN, f"could not append to {path}: it keeps being replaced")


@dataclass
class Lines:
    """What a journal holds: its complete lines (newline removed) and a torn last line."""

    complete: list[bytes] = field(default_factory=list)
    torn: bytes = b""

    def records(self) -> tuple[list[dict[str, Any]], list[bytes]]:
        """The lines that are JSON objects, and those that are not (a torn last line included)."""
        good: list[dict[str, Any]] = []
        bad: list[bytes] = []
        for line in self.complete:
            if not line.strip():
                continue
            value = _parse(line)
            if value is None:
                bad.append(line)
            else:
                good.append(value)
        if self.torn:
            bad.append(self.torn)
        return good, bad


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read(path: Path | str, *, wait_for_writers: bool = True) -> Lines:
    """The lines of `path` (empty when missing); waits for an append under way to finish."""
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return Lines()
    except OSError as error:
        raise _explained(Path(path), error) from None
    try:
        _check_regular(Path(path), fd)
        if wait_for_writers:
            fcntl.flock(fd, fcntl.LOCK_SH)
        data = b""
        while chunk := os.read(fd, 1 << 20):
            data += chunk
    finally:
        os.close(fd)
    complete, newline, torn = data.rpartition(b"\n")
    return Lines(complete.split(b"\n") if newline else [], torn)


def _open_for_append(path: Path, mode: int, folder_mode: int) -> tuple[int, bool]:
    """An open descriptor on the regular file at `path`, and whether it was just created."""
    created = False
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:  # the first line ever, the folder was removed, or it was claimed
        _make_folders(path.parent, folder_mode)
        try:
            fd = os.open(path, OPEN_FLAGS | os.O_CREAT, mode)
        except OSError as error:
            raise _explained(path, error) from None
        created = True
    except OSError as error:
        raise _explained(path, error) from None
    try:
        _check_regular(path, fd)
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def _make_folders(folder: Path, mode: int) -> None:
    """Create `folder` and its missing parents, each with `mode` (not only the last one)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=mode, exist_ok=True)


def _check_regular(path: Path, fd: int) -> None:
    kind = os.fstat(fd).st_mode
    if not stat.S_ISREG(kind):
        raise NotRegularFile(errno.EINVAL, f"{path} is a {_kind(kind)}, not a regular file")


def _explained(path: Path, error: OSError) -> OSError:
    """Name what stands at `path` when opening it failed because it is not a file."""
    if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EMLINK):
        try:
            kind = _kind(os.lstat(path).st_mode)
        except OSError:
            kind = "something else"
        return NotRegularFile(error.errno, f"{path} is a {kind}, not a regular file")
    return error


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


def _still_at(path: Path, fd: int) -> bool:
    """Whether `fd` is still the file at `path` (not renamed or replaced since it was opened)."""
    try:
        at_path = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (at_path.st_ino, at_path.st_dev) == (opened.st_ino, opened.st_dev)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
