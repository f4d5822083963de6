"""The release area on disk: one root-only folder per request, its record and its frozen files.

    <releases>/<id>/request.json    the request, its checks, votes and downloads
    <releases>/<id>/files/<n>       the frozen bytes of its n-th file (1, 2, ...)

A request folder appears whole or not at all: it is built under `.partial-<id>` and renamed.
The record is rewritten by write-then-rename, under one lock per hub process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORD = "request.json"
FILES = "files"
REQUEST_ID = re.compile(r"^\d{8}-[0-9a-f]{6}$")
PARTIAL = ".partial-"


class UnknownRequest(LookupError):
    """No request has this id."""


class ReleaseStore:
    """Requests in the release area: created whole, read, updated one at a time."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """The area exists, for root only (user containers never see it)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.root.stat().st_mode & 0o077:
            self.root.chmod(0o700)

    @contextlib.contextmanager
    def building(self) -> Iterator[tuple[str, Path]]:
        """(id, folder) to fill; renamed into place when the block ends without error."""
        self.ensure()
        for _ in range(20):
            request_id = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
            if not (self.root / request_id).exists():
                break
        partial = self.root / f"{PARTIAL}{request_id}"
        partial.mkdir(mode=0o700)
        (partial / FILES).mkdir(mode=0o700)
        try:
            yield request_id, partial
            _fsync(partial / FILES)
            _fsync(partial)
            os.rename(partial, self.root / request_id)
            _fsync(self.root)
        finally:
            if partial.exists():
                shutil.rmtree(partial)

    def folder(self, request_id: str) -> Path:
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            raise UnknownRequest(request_id)
        return self.root / request_id

    def blob(self, request_id: str, number: int) -> Path:
        """The frozen bytes of a request's file `number` (from 1)."""
        return self.folder(request_id) / FILES / str(number)

    def delete_files(self, request_id: str) -> None:
        """Delete a request's frozen copies (its record stays)."""
        files = self.folder(request_id) / FILES
        for blob in files.iterdir():
            blob.unlink()
        _fsync(files)

    def load(self, request_id: str) -> dict[str, Any]:
        path = self.folder(request_id) / RECORD
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise UnknownRequest(request_id) from None

    def all(self) -> list[dict[str, Any]]:
        """Every request, newest first."""
        if not self.root.is_dir():
            return []
        records = []
        for entry in self.root.iterdir():
            if REQUEST_ID.match(entry.name):
                with contextlib.suppress(UnknownRequest):
                    records.append(self.load(entry.name))
        return sorted(records, key=lambda r: r["created"], reverse=True)

    def write(self, folder: Path, record: dict[str, Any]) -> None:
        """Write a record into `folder` (a request's, or one being built), atomically."""
        path = folder / RECORD
        partial = folder / f"{RECORD}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(record, stream, indent=2, sort_keys=True, ensure_ascii=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)

    def update(self, request_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]):
        """Apply `change` to a request's record and save the result; it may raise to refuse."""
        with self._lock:
            record = change(self.load(request_id))
            self.write(self.folder(request_id), record)
            return record


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
