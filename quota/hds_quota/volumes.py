"""Project storage volumes: one fixed-size ext4 image per project, loop-mounted by the hub.

A project's folders (`<storage_root>/<project>/{shared,users/<user>}`) live inside its own
filesystem, so writes past the plan's storage fail with ENOSPC whatever the host's disk
holds. Images are resized to the plan's size when nothing uses them (grow or shrink,
offline, with e2fsck first), or grown in place while mounted where the kernel allows it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("hds_quota.volumes")

SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
IMAGE_SUFFIX = ".ext4"
BLOCK = 4096
MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"


class StorageError(RuntimeError):
    """A project's volume cannot be made ready; the message says what to do."""


class VolumeTooSmall(StorageError):
    """The project's data does not fit the size asked for."""

    def __init__(self, project: str, used: int, size: int):
        self.project, self.used, self.size = project, used, size
        super().__init__(
            f"project {project}'s files take {used} bytes, more than its storage of {size} bytes"
        )


@dataclass(frozen=True)
class VolumeUsage:
    """A volume's figures in bytes: `capacity` is what files can fill (size minus ext4's own)."""

    project: str
    size: int
    capacity: int
    used: int
    mounted: bool


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts() -> dict[str, str]:
    """Mount point -> source device, from this process's mount table."""
    table = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        table[_unescape(fields[4])] = after.split()[1]
    return table


def loop_backing_file(device: str) -> str | None:
    path = Path("/sys/block") / Path(device).name / "loop" / "backing_file"
    return path.read_text().strip() if path.exists() else None


class ProjectVolumes:
    """The volumes of every project: images in `images_root`, mounted under `storage_root`."""

    def __init__(
        self, images_root: str | Path, storage_root: str | Path, preallocate: bool = False
    ):
        # Resolved, as the kernel's mount table and loop devices name them.
        self.images_root = Path(images_root).resolve()
        self.storage_root = Path(storage_root).resolve()
        self.preallocate = preallocate

    # -- where things are -------------------------------------------------------------------

    def image(self, project: str) -> Path:
        return self.images_root / f"{self._checked(project)}{IMAGE_SUFFIX}"

    def mountpoint(self, project: str) -> Path:
        return self.storage_root / self._checked(project)

    def projects(self) -> list[str]:
        """Projects that have an image."""
        if not self.images_root.is_dir():
            return []
        return sorted(p.name.removesuffix(IMAGE_SUFFIX) for p in self.images_root.glob("*.ext4"))

    @staticmethod
    def _checked(project: str) -> str:
        if not SAFE_NAME.match(project):
            raise StorageError(f"{project!r} cannot name a project volume")
        return project

    # -- state ----------------------------------------------------------------------------

    def is_mounted(self, project: str) -> bool:
        source = mounts().get(str(self.mountpoint(project)))
        if source is None:
            return False
        if loop_backing_file(source) != str(self.image(project)):
            raise StorageError(
                f"{self.mountpoint(project)} has {source} mounted on it, not the project's "
                f"volume {self.image(project)}; unmount it"
            )
        return True

    def is_attached(self, project: str) -> bool:
        """Whether a loop device still holds the image (mounted here, or kept by a container)."""
        image = str(self.image(project))
        for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
            if backing.read_text().strip() == image:
                return True
        return False

    def usage(self, project: str) -> VolumeUsage | None:
        """Size and use of a project's volume, mounted or not; None when it has none."""
        if not self.image(project).exists():
            return None
        fs = self._superblock(project)
        size = fs["Block count"] * fs["Block size"]
        capacity = (fs["Block count"] - fs.get("Overhead clusters", 0)) * fs["Block size"]
        if self.is_mounted(project):
            stat = os.statvfs(self.mountpoint(project))
            used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
            return VolumeUsage(project, size, stat.f_blocks * stat.f_frsize, used, True)
        used = capacity - fs["Free blocks"] * fs["Block size"]
        return VolumeUsage(project, size, capacity, used, False)

    def _superblock(self, project: str) -> dict[str, int]:
        output = _run("dumpe2fs", "-h", str(self.image(project)))
        values = {}
        for line in output.splitlines():
            key, sep, value = line.partition(":")
            if sep and value.strip().isdigit():
                values[key.strip()] = int(value.strip())
        return values

    # -- changes --------------------------------------------------------------------------

    @contextmanager
    def locked(self, project: str) -> Iterator[None]:
        """Serialise changes to one project's volume across threads and processes."""
        self.images_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.images_root / f".{self._checked(project)}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def ensure(self, project: str, size: int, in_use: bool) -> VolumeUsage:
        """Mount the project's volume, created or resized to `size` bytes where it can be.

        `in_use`: other servers of the project run now, so it may only grow in place.
        Raises VolumeTooSmall when the files would not fit a smaller size.
        """
        size -= size % BLOCK
        with self.locked(project):
            # Resize offline when nothing else uses it (after a hub restart it may still be
            # mounted with no server running: unmount it first).
            offline = not self.is_mounted(project) or (
                not in_use and self._fs_size(project) != size and self.unmount(project)
            )
            if offline:
                self._prepare_unmounted(project, size)
                self._mount(project)
            elif self._fs_size(project) < size:
                self._grow_mounted(project, size)
            usage = self.usage(project)
        assert usage is not None
        return usage

    def unmount(self, project: str) -> bool:
        """Unmount the volume; False when something on the host still has files open in it."""
        if not self.is_mounted(project):
            return True
        done = subprocess.run(
            ["umount", str(self.mountpoint(project))], capture_output=True, text=True
        )
        if done.returncode != 0:
            log.warning("volume of %s stays mounted: %s", project, done.stderr.strip())
            return False
        return True

    def _fs_size(self, project: str) -> int:
        fs = self._superblock(project)
        return fs["Block count"] * fs["Block size"]

    def _prepare_unmounted(self, project: str, size: int) -> None:
        image = self.image(project)
        if not image.exists():
            self._create(project, size)
        elif self._fs_size(project) != size:
            if self.is_attached(project):
                log.warning("volume of %s is still held by a loop device; not resizing", project)
            else:
                self._resize_offline(project, size)

    def _create(self, project: str, size: int) -> None:
        image, mountpoint = self.image(project), self.mountpoint(project)
        partial = image.with_suffix(".partial")
        self._allocate(partial, size, fresh=True)
        _run(
            "mkfs.ext4", "-q", "-F", "-b", str(BLOCK), "-i", "16384", "-m", "0",
            "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0", str(partial),
        )  # fmt: skip
        if mountpoint.is_dir() and any(mountpoint.iterdir()):
            self._move_in(project, partial, size)
        partial.rename(image)
        log.info("created the %d-byte volume of %s at %s", size, project, image)

    def _move_in(self, project: str, partial: Path, size: int) -> None:
        """Copy a project folder from before volumes into its new volume; keep the original
        beside it (`.<project>.before-volume`) until an administrator deletes it."""
        mountpoint = self.mountpoint(project)
        kept = self.storage_root / f".{project}.before-volume"
        if kept.exists():
            raise StorageError(f"{kept} is in the way of moving {mountpoint} into its volume")
        staging = self.images_root / f".{project}.staging"
        staging.mkdir(mode=0o700, exist_ok=True)
        _run("mount", "-o", MOUNT_OPTIONS, str(partial), str(staging))
        try:
            _run("cp", "-a", "--sparse=always", f"{mountpoint}/.", f"{staging}/")
        except StorageError as error:
            partial.unlink()
            if "No space left" in str(error):
                raise VolumeTooSmall(project, _disk_use(mountpoint), size) from error
            raise
        finally:
            _run("umount", str(staging))
            staging.rmdir()
        mountpoint.rename(kept)
        log.warning(
            "moved the files of %s into its new volume; the original folder stays at %s "
            "until you delete it",
            project, kept,
        )  # fmt: skip

    def _allocate(self, image: Path, size: int, fresh: bool = False) -> None:
        if fresh:
            image.unlink(missing_ok=True)
            os.close(os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if self.preallocate:
            _run("fallocate", "-l", str(size), str(image))
        else:
            os.truncate(image, size)

    def _resize_offline(self, project: str, size: int) -> None:
        image = str(self.image(project))
        if size > self._fs_size(project):
            _fsck(image)
            self._allocate(self.image(project), size)
            _run("resize2fs", image)
        else:
            usage = self.usage(project)
            assert usage is not None
            if usage.used > size:
                raise VolumeTooSmall(project, usage.used, size)
            _fsck(image)
            try:
                _run("resize2fs", image, f"{size // 1024}K")
            except StorageError as error:
                raise VolumeTooSmall(project, usage.used, size) from error
            os.truncate(image, size)
        log.info("resized the volume of %s to %d bytes", project, size)

    def _grow_mounted(self, project: str, size: int) -> None:
        device = mounts()[str(self.mountpoint(project))]
        try:
            self._allocate(self.image(project), size)
            _run("losetup", "--set-capacity", device)
            _run("resize2fs", device)
            log.info("grew the mounted volume of %s to %d bytes", project, size)
        except StorageError as error:
            # Growing a mounted ext4 needs CAP_SYS_RESOURCE; without it, the next start with
            # no other server of the project running grows it offline.
            log.warning("volume of %s grows when no server uses it: %s", project, error)

    def _mount(self, project: str) -> None:
        mountpoint = self.mountpoint(project)
        mountpoint.mkdir(mode=0o755, parents=True, exist_ok=True)
        if any(mountpoint.iterdir()):
            raise StorageError(
                f"{mountpoint} is not empty, so the volume of {project} cannot be mounted "
                f"there; move its files aside (mv {mountpoint} {mountpoint}.old)"
            )
        _run("mount", "-o", MOUNT_OPTIONS, str(self.image(project)), str(mountpoint))
        mountpoint.chmod(0o755)


def _disk_use(folder: Path) -> int:
    """Bytes the files under `folder` take on disk (as `du` counts them)."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            total += os.lstat(os.path.join(parent, name)).st_blocks * 512
    return total


def _fsck(image: str) -> None:
    done = subprocess.run(["e2fsck", "-f", "-p", image], capture_output=True, text=True)
    if done.returncode >= 4:
        raise StorageError(
            f"e2fsck found errors it could not fix in {image}: {done.stdout}{done.stderr}; "
            f"run `e2fsck -f {image}` by hand"
        )


def _run(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise StorageError(f"{command[0]} is missing: install e2fsprogs and util-linux") from error
    if done.returncode != 0:
        raise StorageError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout
