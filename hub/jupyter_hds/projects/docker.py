"""DockerSpawner for Jupyter HDS: one hardened container per user per project, on its network."""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import requests
from docker.errors import DockerException
from dockerspawner import DockerSpawner
from traitlets import Integer, Unicode, default

from .. import events
from ..audit import served
from ..policy.projects import Project
from . import firewall
from .hardening import Hardening
from .networks import (
    bridge_of,
    create_internal_network,
    find_internal_network,
    free_subnet,
    gateway_address,
    remove_network_if_unused,
)
from .spawner import ProjectSpawnerMixin
from .storage import ProjectStorage

HOME = "/home/jovyan"
# What docker-py raises when the engine is away (its socket gone, a restart).
ENGINE_AWAY = (DockerException, requests.ConnectionError, OSError)
# Project networks have no route out, yet Docker's embedded DNS (127.0.0.11 in a container on
# a user-defined network) forwards names it does not know to the host's resolvers, and from
# the host's own namespace when they are on loopback (CVE-2024-29018; Debian 12's docker.io
# 20.10 has no fix): a way out, one name at a time. A resolver named for the container (`Dns`)
# is asked from inside the container instead, where 127.0.0.1:53 answers nothing; and the
# container's own resolv.conf names that address directly, so that a lookup fails at once
# rather than after the embedded DNS's silence (2 x 5 s).
DNS = ["127.0.0.1"]
RESOLV_CONF = """# Jupyter HDS: user servers resolve no names (their network has no way out).
nameserver 127.0.0.1
options timeout:1 attempts:1
"""


def write_resolv_conf(path: Path) -> None:
    """Write the user servers' resolv.conf (world-readable) unless it is there already."""
    if path.exists() and path.read_text() == RESOLV_CONF:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staged = tempfile.mkstemp(dir=path.parent, prefix=path.name)
    with os.fdopen(handle, "w") as file:
        file.write(RESOLV_CONF)
    os.chmod(staged, 0o644)
    os.replace(staged, path)


class HDSDockerSpawner(ProjectSpawnerMixin, DockerSpawner):
    """A project server in a hardened container, reachable only from the hub and the proxy."""

    # Servers (by log name) that use each project network, from container creation to stop:
    # a network is removed only when its last server stops.
    _network_users: ClassVar[dict[str, set[str]]] = {}
    # One lock per project network (its servers' starts and stops, one at a time), and one
    # for choosing a free subnet (two at once would take the same one; a chosen subnet is held
    # until its network exists); servers of different projects start side by side.
    _network_locks: ClassVar[dict[str, asyncio.Lock]] = {}
    _subnet_lock_instance: ClassVar[asyncio.Lock | None] = None
    _subnets_in_flight: ClassVar[set[str]] = set()  # chosen, the network not yet created
    _docker_threads: ClassVar[ThreadPoolExecutor | None] = None
    # True from stop() to the post-stop hook: a stop the hub made, not a server that died.
    _stopped_by_hub = False

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

    docker_threads = Integer(
        8,
        help="""Threads the hub's calls to the Docker engine run in, for all servers at once.
        DockerSpawner makes them in one thread: servers starting together then wait for each
        other's calls (and for every running check), one at a time.""",
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
            {"type": "bind", "source": str(self.deployment.resolv_conf),
             "target": "/etc/resolv.conf", "read_only": True},
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
            user=f"{self.project_settings.uid}:{self.project_settings.gid}",
            pids_limit=self.pids_limit,
            scratch_size=self.scratch_size,
            mount_sources=frozenset(m["source"] for m in self.mounts),
            scratch_dirs=(f"{HOME}/.local",),
        )

    async def create_object(self):
        async with self._network_lock(self.network_name):
            self._network_users.setdefault(self.network_name, set()).add(self._log_name)
            network = await self.docker_call(find_internal_network, self.network_name)
            if network is None:
                network = await self._create_network()
            # At every start, not only when the network is made: rules lost to a firewall
            # reload or an engine restart are back before the container runs.
            await asyncio.to_thread(firewall.close_bridge, bridge_of(network), self.hub.port)
        self.hub_connect_url = f"http://{gateway_address(network)}:{self.hub.port}"
        self.record_step("network")
        await asyncio.to_thread(write_resolv_conf, self.deployment.resolv_conf)
        await served.settled(self.environment)  # before DockerSpawner reads it, in the loop
        created = await super().create_object()
        self.record_step("container")
        return created

    async def _create_network(self) -> dict:
        """Create this server's project network on a subnet chosen under the subnet lock and
        held for it until the engine has it, so that networks are created side by side."""
        async with self._subnet_lock():
            choose = functools.partial(free_subnet, taken=frozenset(self._subnets_in_flight))
            subnet = await self.docker_call(choose, self.network_pool)
            self._subnets_in_flight.add(subnet)
        try:
            return await self.docker_call(
                create_internal_network,
                self.network_name,
                {"org.jupyter-hds.prefix": self.prefix},
                self.network_pool,
                subnet,
            )
        finally:
            self._subnets_in_flight.discard(subnet)

    async def release_network(self) -> None:
        """Remove the project's network once no server of the project uses it."""
        async with self._network_lock(self.network_name):
            users = self._network_users.get(self.network_name, set())
            users.discard(self._log_name)
            if users:
                return
            removed = await self.docker_call(remove_network_if_unused, self.network_name)
            if removed:
                await asyncio.to_thread(firewall.forget_bridge, bridge_of(removed))

    async def stop(self, now=False):
        self._stopped_by_hub = True
        await super().stop(now=now)

    async def run_post_stop_hook(self):
        # Runs after every stop, also of a server that died (JupyterHub skips stop() then).
        # The steps that need the engine must not keep the ledger and the volume from being
        # closed (the mixin's hook, last) when the engine goes away during a restart.
        try:
            if not self._stopped_by_hub:
                await self._engine_step(self.record_exit, "record how it ended")
            await self._engine_step(self.release_network, "release its network")
        finally:
            self._stopped_by_hub = False
        return await super().run_post_stop_hook()

    async def _engine_step(self, step, what: str) -> None:
        """Run a clean-up `step`; if the engine stops answering (a restart), log and go on.

        What is left is taken care of later: the server's next start removes its old
        container (DockerSpawner does, with `remove`), and finds its network in place.
        """
        try:
            await step()
        except ENGINE_AWAY as error:
            self.log.warning(
                "could not %s for %s: the Docker engine did not answer (%s); its next start "
                "cleans up", what, self._log_name, error,
            )  # fmt: skip

    async def record_exit(self) -> None:
        """Record how a container that ended by itself (crashed, killed) ended; remove it.

        JupyterHub notices such a server when it polls it (every `poll_interval`, and at its
        own start) and then skips `stop()`, which is for running servers: only this hook runs.
        Containers are created without auto-remove so that their exit state is still there.
        """
        try:
            container = await self.get_object()
        except ENGINE_AWAY as error:  # JupyterHub saw it ended; how, the engine cannot say now
            self.log.warning("could not inspect %s: %s", self.container_name, error)
            self._emit_exited({"Error": f"not inspected, the engine did not answer: {error}"})
            return
        state = (container or {}).get("State") or {}
        if not state or state.get("Running"):
            return
        self._emit_exited(state)
        if self.remove:
            await self.remove_object()

    def _emit_exited(self, state: dict) -> None:
        code, oom = state.get("ExitCode"), bool(state.get("OOMKilled"))
        self.exit_reason = "exited"
        events.emit(
            "server.exited",
            actor="service:jupyterhub",
            outcome="succeeded" if code == 0 and not oom else "failed",
            project=self.name or None,
            target=f"{self.user.name}/{self.name}",
            details={
                "exit_code": code,
                "oom_killed": oom,
                "error": state.get("Error") or None,
                "finished_at": state.get("FinishedAt"),
            },
        )

    @classmethod
    def _network_lock(cls, name: str) -> asyncio.Lock:
        """Serialises the creation, firewalling and removal of network `name` in the hub."""
        return cls._network_locks.setdefault(name, asyncio.Lock())

    @classmethod
    def _subnet_lock(cls) -> asyncio.Lock:
        """Serialises the choice of a free subnet (see `_create_network`)."""
        if cls._subnet_lock_instance is None:
            cls._subnet_lock_instance = asyncio.Lock()
        return cls._subnet_lock_instance

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The threads every server's Docker calls run in (`docker_threads` of them)."""
        cls = HDSDockerSpawner
        if cls._docker_threads is None:
            cls._docker_threads = ThreadPoolExecutor(self.docker_threads, "hds-docker")
        return cls._docker_threads

    @default("client_kwargs")
    def _default_client_kwargs(self):
        # As many connections to the engine as threads that call it.
        return {"max_pool_size": max(10, self.docker_threads)}

    async def docker_call(self, function, *args):
        """Run `function(api_client, *args)` in the spawners' Docker threads."""
        return await asyncio.wrap_future(self.executor.submit(function, self.client, *args))

    def _docker(self, method, *args, **kwargs):
        if method == "create_container":
            kwargs = self.hardening.apply(kwargs)
            kwargs["host_config"]["Dns"] = list(DNS)  # no lookup leaves through the engine
            # A container that dies is kept until the hub has noticed, so that record_exit can
            # read how it ended; then it is removed, as `remove` asks.
            kwargs["host_config"]["AutoRemove"] = False
        return super()._docker(method, *args, **kwargs)
