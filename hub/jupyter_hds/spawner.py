"""DockerSpawner for Jupyter HDS: one hardened container per user per project, on its network."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from dockerspawner import DockerSpawner
from traitlets import Integer, Unicode, default

from . import firewall
from .hardening import Hardening
from .networks import bridge_of, ensure_internal_network, gateway_address, remove_network_if_unused
from .project_spawner import ProjectSpawnerMixin
from .projects import Project
from .storage import ProjectStorage

HOME = "/home/jovyan"


class HDSDockerSpawner(ProjectSpawnerMixin, DockerSpawner):
    """A project server in a hardened container, reachable only from the hub and the proxy."""

    # Servers (by log name) that use each project network, from container creation to stop:
    # a network is removed only when its last server stops.
    _network_users: ClassVar[dict[str, set[str]]] = {}
    _networks_lock_instance: ClassVar[asyncio.Lock | None] = None

    pids_limit = Integer(
        512,
        help="Most processes and threads a user server may run at once (fork bombs stop here).",
    ).tag(config=True)

    scratch_size = Unicode(
        "1g",
        help="Size of the in-memory /tmp of a user server; the rest of its root is read-only.",
    ).tag(config=True)

    network_pool = Unicode(
        "10.213.0.0/16",
        help="Address pool project networks take a /24 from (256 projects per /16).",
    ).tag(config=True)

    @default("remove")
    def _default_remove(self):
        # A fresh container at every start, so changed plans and mounts always apply.
        return True

    @default("use_internal_ip")
    def _default_use_internal_ip(self):
        return True

    @default("pull_policy")
    def _default_pull_policy(self):
        # Images are built on the host (`make images`); there may be no registry at all.
        return "never"

    @default("name_template")
    def _default_name_template(self):
        # Server names are project names, already Docker-safe (JupyterHub 6 validates them).
        return "{prefix}-{username}--{raw_servername}"

    @default("format_volume_name")
    def _default_format_volume_name(self):
        # Mount paths are computed by apply_project; never expand templates in them.
        return lambda value, spawner: value

    def member_slug(self) -> str:
        return self.escaped_name

    def project_network(self, project: str) -> str:
        return f"{self.prefix}-project-{project}"

    @default("network_name")
    def _default_network_name(self):
        # Derived from the server name (= project), so it is right after a hub restart too.
        return self.project_network(self.name)

    def apply_project(self, project: Project, storage: ProjectStorage) -> None:
        self.image = project.image
        self.mem_limit = project.plan.memory
        self.cpu_limit = project.plan.cpu
        self.volumes, self.read_only_volumes = {}, {}
        self.mounts = [
            {"type": "bind", "source": str(project.dataset_path), "target": f"{HOME}/dataset",
             "read_only": True},
            {"type": "bind", "source": str(storage.shared), "target": f"{HOME}/shared",
             "read_only": False},
            {"type": "bind", "source": str(storage.work), "target": f"{HOME}/work",
             "read_only": False},
        ]  # fmt: skip
        self.environment = {**self.environment, "HDS_PROJECT": project.name}
        self.extra_create_kwargs = {
            **self.extra_create_kwargs,
            "labels": {
                "org.jupyter-hds.project": project.name,
                "org.jupyter-hds.user": self.user.name,
            },
        }

    @property
    def hardening(self) -> Hardening:
        return Hardening(
            user=f"{self.uid}:{self.gid}",
            pids_limit=self.pids_limit,
            scratch_size=self.scratch_size,
            mount_sources=frozenset(m["source"] for m in self.mounts),
            scratch_dirs=(f"{HOME}/.local",),
        )

    async def create_object(self):
        async with self._networks_lock():
            self._network_users.setdefault(self.network_name, set()).add(self._log_name)
            network = await self.docker_call(
                ensure_internal_network,
                self.network_name,
                {"org.jupyter-hds.prefix": self.prefix},
                self.network_pool,
            )
            await asyncio.to_thread(firewall.close_bridge, bridge_of(network), self.hub.port)
        self.hub_connect_url = f"http://{gateway_address(network)}:{self.hub.port}"
        return await super().create_object()

    async def stop(self, now=False):
        await super().stop(now=now)
        async with self._networks_lock():
            users = self._network_users.get(self.network_name, set())
            users.discard(self._log_name)
            if users:
                return
            removed = await self.docker_call(remove_network_if_unused, self.network_name)
            if removed:
                await asyncio.to_thread(firewall.forget_bridge, bridge_of(removed))

    @classmethod
    def _networks_lock(cls) -> asyncio.Lock:
        """Serialises network creation (subnet choice) and removal within the hub."""
        if cls._networks_lock_instance is None:
            cls._networks_lock_instance = asyncio.Lock()
        return cls._networks_lock_instance

    async def docker_call(self, function, *args):
        """Run `function(api_client, *args)` in DockerSpawner's thread pool."""
        return await asyncio.wrap_future(self.executor.submit(function, self.client, *args))

    def _docker(self, method, *args, **kwargs):
        if method == "create_container":
            kwargs = self.hardening.apply(kwargs)
        return super()._docker(method, *args, **kwargs)
