"""Dataset versions as an import publishes them, for tests that need one quickly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from jupyter_hds.datasets.importer import MANIFEST_FORMAT


def write_dataset(
    datasets: Path, name: str, files: dict[str, bytes] | None = None, project: str | None = None
) -> Path:
    """Version 1 of dataset `name` under the `datasets` folder, imported for `project`
    (default: `name`): these files as given (tests choose their bytes), a manifest, read-only."""
    version = Path(datasets) / name / "1"
    version.mkdir(parents=True, exist_ok=True)
    files = files or {"README.txt": f"dataset {name}\n".encode()}
    for filename, content in files.items():
        (version / filename).write_bytes(content)
        (version / filename).chmod(0o444)
    manifest = {
        "format": MANIFEST_FORMAT, "dataset": name, "version": 1, "project": project or name,
        "files": {f: {"size": len(c), "sha256": hashlib.sha256(c).hexdigest()}
                  for f, c in files.items()},
        "imported_by": "tests/support/datasets.py",
    }  # fmt: skip
    (version / "manifest.json").write_text(json.dumps(manifest))
    for path in (version, version.parent, version.parent.parent):
        path.chmod(0o755)
    return version
