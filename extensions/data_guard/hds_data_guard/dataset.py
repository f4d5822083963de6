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
        relative = api_path.strip().lstrip("/")
        resolved = os.path.realpath(os.path.join(self.root_dir, relative))
        dataset = self.os_path
        return resolved == dataset or resolved.startswith(dataset + os.sep)
