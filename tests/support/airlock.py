"""The airlock in test hubs: output checkers, request files as a server sends them, the area."""

from __future__ import annotations

import hashlib
from pathlib import Path


def checkers(*names: str) -> str:
    """A fragment putting `names` in the output checkers' group."""
    return (
        f'\nc.JupyterHub.load_groups.update({{"output-checkers": {{"users": {list(names)!r}}}}})\n'
    )


def file_entry(path: str, data: bytes, description: str = "counts", min_cell_size=None) -> dict:
    """A file of a release request as the researcher's server sends it."""
    return {"path": path, "description": description, "min_cell_size": min_cell_size,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip


def release_dir(state_dir: Path, request_id: str) -> Path:
    return state_dir / "releases" / request_id
