"""Each project's folders on the host: the shared folder and one space per member."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProjectStorage:
    """Host folders a member's server of one project mounts (besides the dataset)."""

    root: Path
    shared: Path
    work: Path

    @classmethod
    def for_member(cls, storage_root: str | Path, project: str, member_slug: str) -> ProjectStorage:
        """`member_slug` must be safe as a file name (the spawner's escaped user name)."""
        if "/" in member_slug or member_slug in ("", ".", ".."):
            raise ValueError(f"{member_slug!r} cannot name a folder")
        root = Path(storage_root) / project
        return cls(root=root, shared=root / "shared", work=root / "users" / member_slug)

    def ensure(self, uid: int, gid: int) -> None:
        """Create the folders if missing, owned by the servers' uid:gid, closed to others."""
        for folder in (self.root, self.root / "users"):
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        for folder in (self.shared, self.work):
            folder.mkdir(exist_ok=True)
            info = folder.stat()
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.chown(folder, uid, gid)
            if info.st_mode & 0o777 != 0o770:
                folder.chmod(0o770)
