"""Consistent copies of the state folder's files, staged for one restic snapshot.

Append-only files (the audit record's open segment and inbox, the usage ledger) are copied
up to their last complete line; sealed audit segments never change and are hard-linked.
Copies keep their source's mtime, so restic skips what did not change since the last backup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ..audit.segments import list_segments
from ..audit.verify import Verifier
from .restic import BackupError


def copy_lines(source: Path, target: Path) -> int:
    """Copy `source` up to its last newline (a line being written is left out); bytes copied."""
    stat = source.stat()
    with source.open("rb") as stream:
        data = stream.read(stat.st_size)
    data = data[: data.rfind(b"\n") + 1]
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.write_bytes(data)
    os.chmod(target, stat.st_mode & 0o777)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return len(data)


def link_or_copy(source: Path, target: Path) -> None:
    """A file that never changes: a hard link where the filesystem allows, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def copy_tree(source: Path, target: Path) -> None:
    """A folder or file with its modes, owners and times (`cp -a`)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    done = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(source), str(target)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(f"copying {source} failed: {done.stderr.strip()}")


def stage_audit(source: Path, target: Path) -> dict[str, Any]:
    """The audit record (chained segments and inbox) as it stands; its verified head.

    The inbox is copied first: an event drained meanwhile is then in the segments copied
    after it (an event in both is recognised by its id and chained once after a restore).
    """
    shutil.rmtree(target, ignore_errors=True)
    inbox = [p for p in sorted((source / "inbox").glob("*")) if p.suffix in (".jsonl", ".claimed")]
    copied_inbox = 0
    for path in inbox:
        try:
            copy_lines(path, target / "inbox" / path.name)
            copied_inbox += 1
        except FileNotFoundError:
            pass  # claimed or drained since listed: its events are in the segments below
    for _attempt in range(5):
        shutil.rmtree(target / "segments", ignore_errors=True)
        try:
            for segment in list_segments(source):
                copied = target / "segments" / segment.path.name
                if segment.sealed:
                    link_or_copy(segment.path, copied)
                else:
                    copy_lines(segment.path, copied)
            break
        except FileNotFoundError:
            continue  # a segment was sealed while being copied: list them again
    else:
        raise BackupError(f"the audit record in {source} kept changing shape while copied")
    for folder in ("", "inbox", "segments"):
        mirror_mode(source / folder, target / folder)
    report = Verifier(target).verify()
    return {
        "entries": report.entries,
        "segments": report.segments,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "intact": report.intact,
        "breaks": [str(b) for b in report.breaks[:5]],
        "inbox_files": copied_inbox,
    }


def stage_ledger(source: Path, target: Path) -> list[str]:
    """The usage ledger's month files, up to their last complete line."""
    names = []
    for path in sorted(source.glob("*.jsonl")) if source.is_dir() else []:
        copy_lines(path, target / path.name)
        names.append(path.name)
    mirror_mode(source, target)
    return names


def mirror_mode(source: Path, target: Path) -> None:
    """Give the staged folder `target` the permissions of `source` (0700 folders stay so)."""
    if source.is_dir() and target.is_dir():
        os.chmod(target, source.stat().st_mode & 0o7777)


def disk_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (what restic reads)."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            stat = os.lstat(os.path.join(parent, name))
            total += stat.st_size if not os.path.islink(os.path.join(parent, name)) else 0
    return total
