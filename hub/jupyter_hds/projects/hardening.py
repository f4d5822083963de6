"""Container hardening applied to every user server, whatever the operator's other settings say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hardening:
    """What every user-server container gets at creation."""

    user: str = "1000:1000"
    pids_limit: int = 512
    scratch_size: str = "1g"
    # Host paths this container may mount: its project's dataset, shared folder and work space.
    mount_sources: frozenset[str] = frozenset()
    # In-memory folders the server may write besides /tmp (Jupyter's data dir in $HOME, which
    # JupyterHub's disable_user_config keeps out of every config and extension search path).
    scratch_dirs: tuple[str, ...] = ()
    # The container's log (what a kernel prints to the server's stdout and stderr) lives on the
    # host's disk, outside the project's storage quota: a loop printing must not fill it.
    log_max_size: str = "10m"
    log_max_files: int = 3

    def apply(self, create_kwargs: dict[str, Any]) -> dict[str, Any]:
        """Return docker `create_container` arguments with the hardening forced in.

        Operator settings (`extra_host_config`, `extra_create_kwargs`) are merged by
        DockerSpawner before this runs; anything here wins over them.
        """
        kwargs = dict(create_kwargs)
        host_config = dict(kwargs.get("host_config") or {})
        host_config.pop("CapAdd", None)
        host_config.update(
            {
                "CapDrop": ["ALL"],
                "SecurityOpt": ["no-new-privileges"],
                "Privileged": False,
                "PidsLimit": self.pids_limit,
                "ReadonlyRootfs": True,
                "Tmpfs": self._tmpfs(),
                "Init": True,
                "IpcMode": "private",
            }
        )
        host_config["LogConfig"] = {
            "Type": "json-file",
            "Config": {"max-size": self.log_max_size, "max-file": str(self.log_max_files)},
        }
        if host_config.get("Memory"):
            # No swap beyond the memory limit: the limit is the limit.
            host_config["MemorySwap"] = host_config["Memory"]
        for key in ("PidMode", "UTSMode", "UsernsMode", "Devices", "VolumesFrom"):
            host_config.pop(key, None)
        self._check_mounts(host_config)
        kwargs["host_config"] = host_config
        kwargs["user"] = self.user
        return kwargs

    def _tmpfs(self) -> dict[str, str]:
        uid, _, gid = self.user.partition(":")
        owned = f"rw,nosuid,nodev,noexec,size=64m,mode=0700,uid={uid},gid={gid or uid}"
        return {
            "/tmp": f"rw,nosuid,nodev,size={self.scratch_size}",  # noqa: S108 (the container's)
            **{folder: owned for folder in self.scratch_dirs},
        }

    def _check_mounts(self, host_config: dict[str, Any]) -> None:
        """Refuse any host path but the project's own; never the Docker socket."""
        sources = [bind.split(":", 1)[0] for bind in host_config.get("Binds") or []]
        sources += [
            mount.get("Source", "")
            for mount in host_config.get("Mounts") or []
            if mount.get("Type") != "tmpfs"
        ]
        for source in sources:
            if "docker.sock" in source or source not in self.mount_sources:
                raise PermissionError(
                    f"refusing to mount {source!r} into a user server: only the project's "
                    "dataset, shared folder and work space may be mounted"
                )
