"""DockerSpawner for Jupyter HDS: hardened containers on an internal network, nothing chosen by the user."""

from __future__ import annotations

import asyncio
from typing import ClassVar
from dockerspawner import DockerSpawner
from traitlets import Integer, Unicode, default

from .hardening import Hardening
from .networks import ensure_internal_network, gateway_address, remove_network_if_unused


class HDSDockerSpawner(DockerSpawner):
    """One hardened container per server, reachable only from the hub and the proxy."""

    _network_locks: ClassVar[dict[str, asyncio.Lock]] = {}

    container_user = Unicode(
        "1000:1000",
        help="uid:gid the Jupyter server runs as in the container; never root.",
    ).tag(config=True)

    pids_limit = Integer(
        512,
        help="Most processes and threads a user server may run at once (fork bombs stop here).",
    ).tag(config=True)

    scratch_size = Unicode(
        "1g",
        help="Size of the in-memory /tmp of a user server; the rest of its root is read-only.",
    ).tag(config=True)

    @default("remove")
    def _default_remove(self):
        # A fresh container at every start, so changed limits and mounts always apply.
        return True

    @default("use_internal_ip")
    def _default_use_internal_ip(self):
        return True

    @default("pull_policy")
    def _default_pull_policy(self):
        # Images are built on the host (`make images`); there may be no registry at all.
        return "never"

    @default("network_name")
    def _default_network_name(self):
        return f"{self.prefix}-servers"

    @default("name_template")
    def _default_name_template(self):
        return "{prefix}-{username}--{servername}"

    @property
    def hardening(self) -> Hardening:
        return Hardening(
            user=self.container_user, pids_limit=self.pids_limit, scratch_size=self.scratch_size
        )

    async def start(self):
        if self.user_options:
            # Image, limits and mounts come from the hub's config, never from the request.
            self.log.warning(
                "Ignoring user options %s for %s", sorted(self.user_options), self._log_name
            )
            self.user_options = {}
        async with self._network_lock():
            network = await self.docker_call(
                ensure_internal_network, self.network_name, {"org.jupyter-hds.prefix": self.prefix}
            )
            self.hub_connect_url = f"http://{gateway_address(network)}:{self.hub.port}"
            return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        async with self._network_lock():
            await self.docker_call(remove_network_if_unused, self.network_name)

    def _network_lock(self) -> asyncio.Lock:
        """One lock per network, so a stop never removes a network a start is attaching to."""
        return self._network_locks.setdefault(self.network_name, asyncio.Lock())

    async def docker_call(self, function, *args):
        """Run `function(api_client, *args)` in DockerSpawner's thread pool."""
        return await asyncio.wrap_future(self.executor.submit(function, self.client, *args))

    def _docker(self, method, *args, **kwargs):
        if method == "create_container":
            kwargs = self.hardening.apply(kwargs)
        return super()._docker(method, *args, **kwargs)
