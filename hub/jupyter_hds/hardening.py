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
                "Tmpfs": {"/tmp": f"rw,nosuid,nodev,size={self.scratch_size}"},
                "Init": True,
                "IpcMode": "private",
            }
        )
        if host_config.get("Memory"):
            # No swap beyond the memory limit: the limit is the limit.
            host_config["MemorySwap"] = host_config["Memory"]
        for key in ("PidMode", "UTSMode", "UsernsMode", "Devices", "VolumesFrom"):
            host_config.pop(key, None)
        kwargs["host_config"] = host_config
        kwargs["user"] = self.user
        return kwargs
