"""`make install` into a temporary root, and its units read the way systemd reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .hub import ROOT


def install(dest: Path, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["make", "--no-print-directory", "install", f"DESTDIR={dest}", "HDS_INSTALL_APP=0",
         *(f"{k}={v}" for k, v in env.items())],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def relocated(text: str, dest: Path) -> str:
    """A unit as installed under `dest`, its paths pointing into `dest` and this checkout."""
    for old, new in (
        ("/opt/jupyter-hds/venv", str(ROOT / ".venv")),
        ("/opt/jupyter-hds/node_modules", str(ROOT / "node_modules")),
        ("/opt/jupyter-hds", f"{dest}/opt/jupyter-hds"),
        ("/etc/jupyter-hds", f"{dest}/etc/jupyter-hds"),
        ("/var/lib/jupyter-hds", f"{dest}/var/lib/jupyter-hds"),
    ):
        text = text.replace(old, new)
    return text


def service(text: str) -> dict[str, list[str]]:
    """The [Service] section's settings, each key with all its values in order."""
    values: dict[str, list[str]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values
