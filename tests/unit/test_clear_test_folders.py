"""scripts/clear-test-folders.sh: what `make test` does before its lanes use their folders.

A killed run leaves project volumes mounted in its temporary folders; pytest cannot remove a
mount point, and every test of the next run then failed its setup ("File exists").
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hds_quota.volumes import mounts
from support.hub import ROOT

SCRIPT = ROOT / "scripts" / "clear-test-folders.sh"


@pytest.fixture(autouse=True)
def _as_root():
    if os.geteuid() != 0:
        pytest.fail("these tests mount filesystems: run them as root, as make test does")


def mounted_under(folder: Path) -> list[str]:
    return [point for point in mounts() if point.startswith(f"{folder}/")]


def clear(*folders: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *map(str, folders)], capture_output=True, text=True, timeout=60
    )


def test_a_folder_with_volumes_still_mounted_is_unmounted_and_removed(tmp_path):
    lane = tmp_path / "lane"
    outer, inner = lane / "hub" / "projects" / "alpha", lane / "hub" / "projects" / "alpha" / "x"
    outer.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(outer)], check=True)
    try:
        inner.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(inner)], check=True)
        (inner / "data.csv").write_text("kept in a mounted volume\n")
        # What pytest does with its basetemp: it cannot.
        assert subprocess.run(["rm", "-rf", str(lane)], capture_output=True).returncode != 0
        assert lane.exists()

        done = clear(lane)

        assert done.returncode == 0, done.stderr
        assert not lane.exists()
        assert mounted_under(tmp_path) == []
    finally:
        for point in sorted(mounted_under(tmp_path), reverse=True):
            subprocess.run(["umount", "-l", point], check=False)


def test_missing_folders_are_fine_and_every_folder_is_cleared(tmp_path):
    (tmp_path / "b" / "c").mkdir(parents=True)
    done = clear(tmp_path / "a", tmp_path / "b/")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_folder_it_cannot_remove_fails_and_names_the_folder(tmp_path):
    lane, stuck = tmp_path / "lane", tmp_path / "lane" / "stuck"
    stuck.mkdir(parents=True)
    (stuck / "file").write_text("")
    subprocess.run(["chattr", "+i", str(stuck / "file")], check=True)  # not even root removes it
    try:
        done = clear(lane, tmp_path / "other")
        assert done.returncode == 1
        assert f"cannot remove {lane}, left by an earlier run" in done.stderr
    finally:
        subprocess.run(["chattr", "-i", str(stuck / "file")], check=True)
