"""Project volumes for real: ext4 images loop-mounted on this host (needs root, as the hub runs)."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from hds_quota.volumes import ProjectVolumes, StorageError, VolumeTooSmall, mounts

M = 1024**2


@pytest.fixture
def volumes(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("volume tests loop-mount filesystems: run them as root, as the hub runs")
    made = ProjectVolumes(tmp_path / "volumes", tmp_path / "projects")
    yield made
    for project in made.projects():
        made.unmount(project)


def fill(path, size):
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_write_past_the_size_fails_and_the_data_already_there_stays(volumes):
    usage = volumes.ensure("alpha", 64 * M, in_use=False)
    assert usage.mounted and usage.size == 64 * M and usage.capacity < 64 * M
    root = volumes.mountpoint("alpha")
    kept = fill(root / "kept.bin", 40 * M)
    with pytest.raises(OSError) as full, open(root / "more.bin", "wb") as out:
        for _ in range(40):
            out.write(os.urandom(M))
            out.flush()
            os.fsync(out.fileno())
    assert full.value.errno == errno.ENOSPC
    assert digest(root / "kept.bin") == kept
    image = volumes.image("alpha")
    assert image.stat().st_mode & 0o777 == 0o600 and image.parent.stat().st_mode & 0o777 == 0o700


def test_a_larger_size_grows_the_volume_and_keeps_its_files(volumes):
    volumes.ensure("alpha", 64 * M, in_use=False)
    kept = fill(volumes.mountpoint("alpha") / "kept.bin", 40 * M)
    volumes.unmount("alpha")
    grown = volumes.ensure("alpha", 128 * M, in_use=False)
    assert grown.size == 128 * M
    assert digest(volumes.mountpoint("alpha") / "kept.bin") == kept
    fill(volumes.mountpoint("alpha") / "more.bin", 60 * M)  # fits now


def test_a_mounted_volume_with_no_other_user_is_resized_at_once(volumes):
    volumes.ensure("alpha", 64 * M, in_use=False)
    assert volumes.ensure("alpha", 96 * M, in_use=False).size == 96 * M


CAP_SYS_RESOURCE = 24  # linux/capability.h


def has_capability(number: int) -> bool:
    """Whether this process holds capability `number` (its effective set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> number & 1)
    raise AssertionError("no CapEff line in /proc/self/status")


def mount_id(path) -> str:
    """The kernel's id of the mount at `path`: a new one each time it is mounted."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if line.split()[4] == str(path):
            return line.split()[0]
    raise AssertionError(f"nothing is mounted at {path}")


def test_a_volume_in_use_elsewhere_is_never_resized_offline(volumes):
    volumes.ensure("alpha", 64 * M, in_use=False)
    kept = fill(volumes.mountpoint("alpha") / "kept.bin", 10 * M)
    mounted = mount_id(volumes.mountpoint("alpha"))
    # Growing a mounted ext4 needs CAP_SYS_RESOURCE: with it (the hub as root on a host) the
    # volume grows in place; without it (in some containers) it keeps its size for now.
    grown = 96 * M if has_capability(CAP_SYS_RESOURCE) else 64 * M
    usage = volumes.ensure("alpha", 96 * M, in_use=True)
    assert usage.mounted and usage.size == grown
    assert volumes.ensure("alpha", 48 * M, in_use=True).size == grown  # no shrink while used
    assert mount_id(volumes.mountpoint("alpha")) == mounted  # never unmounted meanwhile
    assert digest(volumes.mountpoint("alpha") / "kept.bin") == kept
    # Once nothing else uses it, the next start resizes it to the plan's size.
    assert volumes.ensure("alpha", 96 * M, in_use=False).size == 96 * M
    assert digest(volumes.mountpoint("alpha") / "kept.bin") == kept


def test_a_smaller_size_shrinks_when_the_files_fit_and_refuses_when_not(volumes):
    volumes.ensure("alpha", 128 * M, in_use=False)
    kept = fill(volumes.mountpoint("alpha") / "kept.bin", 40 * M)
    volumes.unmount("alpha")
    assert volumes.ensure("alpha", 64 * M, in_use=False).size == 64 * M
    assert digest(volumes.mountpoint("alpha") / "kept.bin") == kept
    volumes.unmount("alpha")
    with pytest.raises(VolumeTooSmall) as small:
        volumes.ensure("alpha", 32 * M, in_use=False)
    assert small.value.used > 32 * M
    assert not volumes.is_mounted("alpha")
    assert volumes.ensure("alpha", 64 * M, in_use=False).size == 64 * M
    assert digest(volumes.mountpoint("alpha") / "kept.bin") == kept


def test_usage_is_the_same_mounted_or_not(volumes):
    volumes.ensure("alpha", 64 * M, in_use=False)
    fill(volumes.mountpoint("alpha") / "f.bin", 10 * M)
    os.sync()
    mounted = volumes.usage("alpha")
    volumes.unmount("alpha")
    unmounted = volumes.usage("alpha")
    assert (mounted.capacity, mounted.used) == (unmounted.capacity, unmounted.used)
    assert 10 * M <= unmounted.used < 12 * M and not unmounted.mounted
    assert volumes.usage("nothing") is None


def test_files_from_before_volumes_move_in_and_the_original_stays_aside(volumes):
    old = volumes.mountpoint("alpha") / "shared"
    old.mkdir(parents=True)
    (old / "notes.txt").write_text("keep me")
    os.chown(old / "notes.txt", 1000, 1000)
    usage = volumes.ensure("alpha", 64 * M, in_use=False)
    assert usage.mounted
    moved = volumes.mountpoint("alpha") / "shared" / "notes.txt"
    assert moved.read_text() == "keep me" and moved.stat().st_uid == 1000
    aside = volumes.storage_root / ".alpha.before-volume" / "shared" / "notes.txt"
    assert aside.read_text() == "keep me"


def test_files_from_before_volumes_that_do_not_fit_stay_where_they_are(volumes):
    old = volumes.mountpoint("alpha") / "shared"
    old.mkdir(parents=True)
    kept = fill(old / "big.bin", 70 * M)
    with pytest.raises(VolumeTooSmall) as small:
        volumes.ensure("alpha", 64 * M, in_use=False)
    assert small.value.used >= 70 * M
    assert digest(old / "big.bin") == kept
    assert not volumes.image("alpha").exists() and not volumes.is_mounted("alpha")
    assert not list(volumes.images_root.glob("*.partial"))


def test_something_else_mounted_there_is_refused(volumes, tmp_path):
    target = volumes.mountpoint("alpha")
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(target)], check=True)
    try:
        with pytest.raises(StorageError, match="not the project's volume"):
            volumes.ensure("alpha", 64 * M, in_use=False)
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_an_unmount_blocked_by_an_open_file_keeps_the_volume(volumes):
    volumes.ensure("alpha", 64 * M, in_use=False)
    with open(volumes.mountpoint("alpha") / "open.txt", "w"):
        os.chdir(volumes.mountpoint("alpha"))
        try:
            assert volumes.unmount("alpha") is False
        finally:
            os.chdir("/")
    assert volumes.is_mounted("alpha")
    assert volumes.unmount("alpha") and not volumes.is_attached("alpha")
    assert str(volumes.mountpoint("alpha")) not in mounts()


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "UPPER"])
def test_names_that_could_escape_are_refused(volumes, name):
    with pytest.raises(StorageError, match="cannot name a project volume"):
        volumes.image(name)


def test_a_storage_root_reached_through_a_link_is_recognised_as_mounted(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    volumes = ProjectVolumes(tmp_path / "volumes", tmp_path / "link")
    try:
        volumes.ensure("alpha", 64 * M, in_use=False)
        assert volumes.ensure("alpha", 64 * M, in_use=True).mounted
        assert str(tmp_path / "real" / "alpha") in mounts()
    finally:
        volumes.unmount("alpha")
