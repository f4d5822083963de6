"""Projects' pseudonymisation secrets: one 32-byte key per project, root-only, never shown.

`keys/<project>.key` (0600, folder 0700) is made at the project's first import. Pseudonyms
and date shifts use keys derived from it for each purpose, so that one never predicts the
other. A key is known to the outside only by its id, a short digest that reveals nothing of
it. Rotating replaces the key: no table links old pseudonyms to new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from hds_records.journal import fsync_dir

from .names import DATASET_NAME

KEY_BYTES = 32
PURPOSES = ("pseudonym", "date-shift")


def key_id(secret: bytes) -> str:
    """16 hex digits naming `secret` in manifests and audit events."""
    return hmac.new(secret, b"jupyter-hds key id", hashlib.sha256).hexdigest()[:16]


def derive(secret: bytes, purpose: str) -> bytes:
    """The key for one purpose (pseudonym, date-shift): domain separation by HMAC."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; purposes are {', '.join(PURPOSES)}")
    return hmac.new(secret, f"jupyter-hds {purpose} v1".encode(), hashlib.sha256).digest()


class ProjectKeys:
    """The keys folder of a deployment (`Deployment().keys`)."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def path(self, project: str) -> Path:
        if not DATASET_NAME.match(project):  # project names are a subset of these
            raise ValueError(f"{project!r} cannot name a project key")
        return self.folder / f"{project}.key"

    def load(self, project: str) -> bytes | None:
        """The project's key, or None when it has none yet."""
        try:
            secret = self.path(project).read_bytes()
        except FileNotFoundError:
            return None
        if len(secret) != KEY_BYTES:
            raise ValueError(
                f"{self.path(project)} holds {len(secret)} bytes, not a {KEY_BYTES}-byte key; "
                "restore it from a backup (or remove it to start new pseudonyms)"
            )
        return secret

    def get_or_create(self, project: str) -> bytes:
        """The project's key, made now if it has none (two imports at once agree on one)."""
        secret = self.load(project)
        if secret is not None:
            return secret
        candidate = secrets.token_bytes(KEY_BYTES)
        if self._write(project, candidate, replace=False):
            return candidate
        return self.load(project) or candidate  # another import made it first: use theirs

    def replace(self, project: str, secret: bytes) -> None:
        """Make `secret` the project's key (rotation); the old key is gone."""
        self._write(project, secret, replace=True)

    @staticmethod
    def fresh() -> bytes:
        return secrets.token_bytes(KEY_BYTES)

    def _write(self, project: str, secret: bytes, replace: bool) -> bool:
        if len(secret) != KEY_BYTES:
            raise ValueError(f"a project key has {KEY_BYTES} bytes")
        target = self.path(project)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        temporary = self.folder / f".{project}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            if replace:
                os.replace(temporary, target)
            else:
                try:
                    os.link(temporary, target)  # fails if a key exists: never overwritten
                except FileExistsError:
                    return False
        finally:
            temporary.unlink(missing_ok=True)
            fsync_dir(self.folder)
        return True
