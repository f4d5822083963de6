"""Which contents-API paths are the project dataset, symbolic links followed."""

from __future__ import annotations

import os
from pathlib import PurePosixPath


def check_dataset_dir(value: str) -> str:
    """Return `value` as a clean relative folder name, or raise ValueError saying what to write."""
    path = PurePosixPath(value.strip().strip("/"))
    if not value.strip() or str(path) == ".":
        raise ValueError("dataset_dir is empty; write the dataset folder relative to the "
                         "server's root_dir, e.g. 'dataset'")  # fmt: skip
    if value.strip().startswith("/") or ".." in path.parts:
        raise ValueError(f"dataset_dir {value!r} must be a folder inside the server's root_dir, "
                         "written relative to it (e.g. 'dataset'), without '..'")  # fmt: skip
    return str(path)


class DatasetFolder:
    """The dataset folder under the contents root; answers whether an API path lies in it.

    Paths are resolved on disk, so a symbolic link in ~/work that points into the dataset
    counts as the dataset, and `work/../dataset` too.
    """

    def __init__(self, root_dir: str, dataset_dir: str):
        self.root_dir = os.path.realpath(root_dir)
        self.api_path = check_dataset_dir(dataset_dir)

    @property
    def os_path(self) -> str:
        # Resolved at each call: the mount may appear after the server starts.
        return os.path.realpath(os.path.join(self.root_dir, self.api_path))

    def contains(self, api_path: str | None) -> bool:
        """True when `api_path` (relative to the contents root) is the dataset or inside it."""
        if api_path is None:
            return False
        return _within(self._resolve(api_path), self.os_path)

    def copies_dataset(self, api_path: str | None) -> bool:
        """True when copying `api_path` would copy dataset files: it is the dataset or lies in
        it, or it is a folder that holds the dataset or a symbolic link reaching into it
        (jupyter_server copies folders whole, following links)."""
        if api_path is None:
            return False
        source, dataset = self._resolve(api_path), self.os_path
        if _within(source, dataset) or _within(dataset, source):
            return True
        for folder, folders, files in os.walk(source):  # links are listed, not followed
            for name in folders + files:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    target = os.path.realpath(path)
                    if _within(target, dataset) or _within(dataset, target):
                        return True
        return False

    def os_path_of(self, api_path: str) -> str:
        """Where `api_path` (relative to the contents root) is on disk, links followed."""
        return self._resolve(api_path)

    def _resolve(self, api_path: str) -> str:
        relative = api_path.strip().lstrip("/")
        return os.path.realpath(os.path.join(self.root_dir, relative))


def _within(path: str, folder: str) -> bool:
    """True when `path` is `folder` or lies in it (both resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
