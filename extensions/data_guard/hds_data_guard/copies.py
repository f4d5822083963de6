"""A file read through the browser: its bytes, their sha256, and the dataset file it copies, if any.

A file in ~/work whose bytes are a dataset file's is the dataset, whatever its name: the
guard treats it as that file. Comparing costs nothing for almost every read: the dataset's
files are listed by size (kept `LISTING_TTL` seconds), and a read is hashed only when its
size is one of theirs; a dataset file is hashed once, then remembered by (path, size, mtime).
A copy altered by a single byte is not found this way (docs/data-guard.md says what covers it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections import defaultdict
from typing import Any

from .dataset import DatasetFolder

LISTING_TTL = 10.0
# Hash in a thread above this size, so the server keeps answering meanwhile.
THREAD_ABOVE = 1024 * 1024


class ReadContent:
    """The file bytes a contents-API model carries to the browser, counted and hashed lazily."""

    def __init__(self, model: dict[str, Any], os_path: str):
        self.model, self.os_path = model, os_path
        self._data: bytes | None = None
        self._sha256: str | None = None

    @property
    def format(self) -> str | None:
        return self.model.get("format")

    @property
    def size(self) -> int:
        """Bytes of the file that are sent (for a notebook, the file's size on disk)."""
        content = self.model["content"]
        if self.model.get("type") == "notebook":
            return int(self.model.get("size") or 0)
        if self.format == "base64":
            # Jupyter writes base64 in lines: count the encoded characters, not the newlines.
            chars = len(content) - content.count("\n")
            return chars * 3 // 4 - content[-3:].count("=")
        return len(self.data())

    def data(self) -> bytes:
        if self._data is None:
            content = self.model["content"]
            if self.model.get("type") == "notebook":
                with open(self.os_path, "rb") as file:  # what was sent, re-read from disk
                    self._data = file.read()
            elif self.format == "base64":
                self._data = base64.b64decode(content)
            else:
                self._data = content.encode("utf-8")  # Jupyter decoded the file's UTF-8
        return self._data

    async def sha256(self) -> str:
        if self._sha256 is None:
            data = self.data()
            if len(data) > THREAD_ABOVE:
                self._sha256 = await asyncio.to_thread(_sha256, data)
            else:
                self._sha256 = _sha256(data)
        return self._sha256


class DatasetCopies:
    """Finds the dataset file whose bytes a read carries, if there is one."""

    def __init__(self, dataset: DatasetFolder, clock=time.monotonic):
        self.dataset, self.clock = dataset, clock
        self._by_size: dict[int, list[tuple[str, int]]] = {}
        self._listed_at = float("-inf")
        self._digests: dict[tuple[str, int, int], str] = {}

    async def copy_of(self, read: ReadContent) -> str | None:
        """The contents-API path of the dataset file with the same bytes as `read`, or None."""
        candidates = self._files_of_size(read.size)
        if not candidates:
            return None
        digest = await read.sha256()
        for os_path, mtime in candidates:
            if await self._digest(os_path, read.size, mtime) == digest:
                inside = os.path.relpath(os_path, self.dataset.os_path)
                return f"{self.dataset.api_path}/{inside}"
        return None

    def _files_of_size(self, size: int) -> list[tuple[str, int]]:
        if size <= 0:
            return []  # every empty file is alike: not a copy of anything
        if self.clock() - self._listed_at > LISTING_TTL:
            self._by_size = self._list()
            self._listed_at = self.clock()
        return self._by_size.get(size, [])

    def _list(self) -> dict[int, list[tuple[str, int]]]:
        """The dataset's regular files by size (links inside it are not followed)."""
        found: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for folder, _, files in os.walk(self.dataset.os_path):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path, follow_symlinks=False)
                except OSError:
                    continue
                if os.path.isfile(path) and not os.path.islink(path) and info.st_size > 0:
                    found[info.st_size].append((path, info.st_mtime_ns))
        return dict(found)

    async def _digest(self, os_path: str, size: int, mtime: int) -> str | None:
        key = (os_path, size, mtime)
        if key not in self._digests:
            try:
                self._digests[key] = await asyncio.to_thread(_sha256_file, os_path)
            except OSError:
                return None
        return self._digests[key]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
