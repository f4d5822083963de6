"""SwarmSpawner for Jupyter HDS: each project server a hardened swarm service, by its storage.

The same guarantees as `HDSDockerSpawner` (docs/scaling.md says how each is kept):
- its project's overlay network only: internal (no route out), encrypted between nodes,
  attachable, so that the project's gateway on the hub's node can join it;
- the hub reaches servers, and servers the hub's API, through that gateway: a container on
  the hub's node on both the overlay and an internal bridge to the host (routing and NAT in
  its own namespace, nothing else forwarded); the host routes the overlay's subnet to it;
- a project's volume lives on one node (a node label set when the volume is made), its
  servers are placed there, and that node's agent (`jupyter_hds.node_agent`) mounts it;
- hardening forced into the service at creation: non-root user, all capabilities dropped,
  no new privileges (setpriv, and the node's daemon default), read-only root, init, pids,
  memory and CPU from the plan, capped logs, only the project's mounts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import subprocess
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import docker
from docker.types import ContainerSpec, Mount, Placement, RestartPolicy, TaskTemplate
from dockerspawner import SwarmSpawner
from traitlets import Integer, Unicode, default

from hds_quota.volumes import VolumeUsage

from .. import events
from ..node_agent import CLIENT, SOCKET
from ..policy.admission import storage_too_small, storage_unavailable
from ..policy.projects import Project
from . import firewall
from .networks import BRIDGE_OPTION, MANAGED_LABEL, bridge_of, ensure_internal_network, free_subnet
from .quota import ServerQuota
from .spawner import ProjectSpawnerMixin
from .storage import ProjectStorage

HOME = "/home/jovyan"
VOLUME_LABEL = "org.jupyter-hds.volume."
# The server's own command runs under setpriv: no new privileges for it and all it starts
# (Docker 20.10 services have no SecurityOpt; the node's daemon default says it too).
NO_NEW_PRIVILEGES = ["setpriv", "--no-new-privs", "--"]

GATEWAY_SCRIPT = r"""
set -eu
ov=$(ip -4 route show "$OVERLAY_SUBNET" | awk '{print $3; exit}')
br=$(ip -4 route show "$BRIDGE_SUBNET" | awk '{print $3; exit}')
iptables -P INPUT DROP
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -P FORWARD DROP
iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -i "$br" -o "$ov" -s "$HUB_IP" -p tcp --dport "$SERVER_PORT" -j ACCEPT
iptables -A FORWARD -i "$ov" -o "$br" -d "$HUB_IP" -p tcp --dport "$HUB_PORT" -j ACCEPT
iptables -t nat -A PREROUTING -i "$ov" -p tcp --dport "$HUB_PORT" \
  -j DNAT --to-destination "$HUB_IP:$HUB_PORT"
iptables -t nat -A POSTROUTING -o "$ov" -j MASQUERADE
iptables -t nat -A POSTROUTING -o "$br" -j MASQUERADE
echo "gateway ready: $br <-> $ov"
exec sleep infinity
"""


# --- networks ------------------------------------------------------------------------------


def ensure_overlay_network(
    api: docker.APIClient, name: str, labels: dict[str, str], pool: str
) -> dict[str, Any]:
    """The inspected overlay network `name`: internal, encrypted, attachable; made if missing."""
    found = [n for n in api.networks(names=[name]) if n["Name"] == name]
    if found:
        network = api.inspect_network(found[0]["Id"])
    else:
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=free_subnet(api, pool))]
        )
        created = api.create_network(
            name, driver="overlay", internal=True, attachable=True, check_duplicate=True,
            options={"encrypted": "true"}, ipam=ipam, labels={MANAGED_LABEL: "true", **labels},
        )  # fmt: skip
        network = _settled(api, created["Id"])
    if not _closed_overlay(network):
        raise RuntimeError(
            f"Docker network {name!r} exists but is not an internal, encrypted overlay "
            f"(driver {network.get('Driver')}, internal {network.get('Internal')}, options "
            f"{network.get('Options')}); remove it with `docker network rm {name}` and let "
            "Jupyter HDS create it"
        )
    return network


def _closed_overlay(network: dict[str, Any]) -> bool:
    return (
        network.get("Driver") == "overlay"
        and bool(network.get("Internal"))
        and "encrypted" in (network.get("Options") or {})
    )


def _settled(api: docker.APIClient, network_id: str, wait: float = 10) -> dict[str, Any]:
    """A network just made, once the manager's inspect shows all of its settings."""
    deadline = time.monotonic() + wait
    network = api.inspect_network(network_id)
    while not _closed_overlay(network) and time.monotonic() < deadline:
        time.sleep(0.2)
        network = api.inspect_network(network_id)
    return network


def subnet_of(network: dict[str, Any]) -> str:
    for pool in (network.get("IPAM") or {}).get("Config") or []:
        if pool.get("Subnet") and ":" not in pool["Subnet"]:
            return pool["Subnet"]
    raise RuntimeError(f"Docker network {network.get('Name')!r} has no IPv4 subnet")


def host_address(network: dict[str, Any]) -> str:
    """The host's address on a bridge network (its gateway)."""
    for pool in (network.get("IPAM") or {}).get("Config") or []:
        if pool.get("Gateway"):
            return pool["Gateway"]
    return str(next(ipaddress.ip_network(subnet_of(network)).hosts()))


def address_on(attachments: dict[str, Any], network_id: str) -> str | None:
    """A container's address on a network, from its NetworkSettings.Networks."""
    for settings in attachments.values():
        if settings.get("NetworkID") == network_id and settings.get("IPAddress"):
            return settings["IPAddress"]
    return None


@dataclass(frozen=True)
class Gateway:
    """Where the hub's side meets a project's overlay."""

    container: str
    bridge: str  # the host interface of the hub-side network
    bridge_address: str  # the gateway's address there: the host routes the overlay to it
    overlay_address: str  # the gateway's address on the overlay: servers reach the hub here
    overlay_subnet: str


def ensure_gateway(
    api: docker.APIClient,
    name: str,
    hubside: dict[str, Any],
    overlay: dict[str, Any],
    image: str,
    hub_port: int,
    server_port: int,
    labels: dict[str, str],
) -> Gateway:
    """The project's gateway container on this (the hub's) node, created and started if missing."""
    existing = [
        c for c in api.containers(all=True, filters={"name": name}) if f"/{name}" in c["Names"]
    ]
    if existing and existing[0]["State"] != "running":
        api.remove_container(existing[0]["Id"], force=True)
        existing = []
    if not existing:
        environment = {
            "OVERLAY_SUBNET": subnet_of(overlay), "BRIDGE_SUBNET": subnet_of(hubside),
            "HUB_IP": host_address(hubside), "HUB_PORT": str(hub_port),
            "SERVER_PORT": str(server_port),
        }  # fmt: skip
        host_config = api.create_host_config(
            network_mode=hubside["Name"], cap_drop=["ALL"], cap_add=["NET_ADMIN"],
            sysctls={"net.ipv4.ip_forward": "1"}, read_only=True,
            tmpfs={"/run": "rw,nosuid,nodev,noexec,size=1m"}, restart_policy={"Name": "always"},
            log_config={"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}},
        )  # fmt: skip
        created = api.create_container(
            image, ["sh", "-c", GATEWAY_SCRIPT], name=name, environment=environment,
            host_config=host_config, labels={MANAGED_LABEL: "true", **labels}, user="0:0",
        )  # fmt: skip
        api.connect_container_to_network(created["Id"], overlay["Id"])
        api.start(created["Id"])
        _wait_for_log(api, created["Id"], "gateway ready")
    attachments = api.inspect_container(name)["NetworkSettings"]["Networks"]
    return Gateway(
        container=name,
        bridge=bridge_of(hubside),
        bridge_address=address_on(attachments, hubside["Id"]) or "",
        overlay_address=address_on(attachments, overlay["Id"]) or "",
        overlay_subnet=subnet_of(overlay),
    )


def _wait_for_log(api: docker.APIClient, container: str, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in api.logs(container).decode(errors="replace"):
            return
        if not api.inspect_container(container)["State"]["Running"]:
            break
        time.sleep(0.2)
    raise RuntimeError(f"{container} did not start: {api.logs(container).decode()[-2000:]}")


def route_to(gateway: Gateway) -> None:
    """On the hub's host: the project's overlay subnet is reached through its gateway."""
    _ip("route", "replace", gateway.overlay_subnet, "via", gateway.bridge_address,
        "dev", gateway.bridge)  # fmt: skip


def forget_route(subnet: str) -> None:
    _ip("route", "del", subnet, check=False)


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


def remove_project_networks(
    api: docker.APIClient, overlay: str, hubside: str, gateway: str, timeout: float = 30
) -> dict[str, Any] | None:
    """Remove the gateway, then the overlay (once its tasks are gone) and the hub-side bridge.

    Returns the removed hub-side network (for its firewall rules), None when something of
    the project still uses them.
    """
    found = [n for n in api.networks(names=[overlay]) if n["Name"] == overlay]
    if found and _service_tasks_on(api, found[0]["Id"]):
        return None
    for container in api.containers(all=True, filters={"name": gateway}):
        if f"/{gateway}" in container["Names"]:
            api.remove_container(container["Id"], force=True)
    deadline = time.monotonic() + timeout
    while found:
        try:
            api.remove_network(found[0]["Id"])
            break
        except docker.errors.APIError:  # a stopping task still holds an endpoint
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    removed = None
    for summary in api.networks(names=[hubside]):
        if summary["Name"] == hubside:
            removed = api.inspect_network(summary["Id"])
            api.remove_network(summary["Id"])
    return removed


def _service_tasks_on(api: docker.APIClient, network_id: str) -> list[str]:
    """Services (not yet removed) whose tasks use the network."""
    return [
        service["Spec"]["Name"]
        for service in api.services()
        for attached in service["Spec"].get("TaskTemplate", {}).get("Networks") or []
        if attached.get("Target") == network_id
    ]


# --- hardening -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceHardening:
    """What every user-server service gets at creation, whatever the configuration says."""

    user: str
    pids_limit: int
    scratch_size: int
    network: str
    mount_sources: frozenset[str]
    log_max_size: str = "10m"
    log_max_files: int = 3

    def apply(self, create_kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(create_kwargs)
        task = dict(kwargs["task_template"])
        spec = dict(task["ContainerSpec"])
        for key in ("CapabilityAdd", "Privileges", "Sysctls", "Groups"):
            spec.pop(key, None)
        spec.update(
            {
                "User": self.user,
                "CapabilityDrop": ["ALL"],
                "ReadOnly": True,
                "Init": True,
                "Command": NO_NEW_PRIVILEGES
                + [c for c in spec.get("Command") or [] if c not in NO_NEW_PRIVILEGES],
                "Mounts": self._mounts(spec.get("Mounts") or []),
            }
        )
        resources = dict(task.get("Resources") or {})
        resources["Limits"] = {**(resources.get("Limits") or {}), "Pids": self.pids_limit}
        task.update(
            {
                "ContainerSpec": spec,
                "Resources": resources,
                "Networks": [{"Target": self.network}],
                "LogDriver": {
                    "Name": "json-file",
                    "Options": {"max-size": self.log_max_size, "max-file": str(self.log_max_files)},
                },
                "RestartPolicy": {"Condition": "none"},
            }
        )
        kwargs["task_template"] = task
        # Reached through its address on the project network only: no published port, no
        # virtual IP (DNS round robin; the task's address is what the proxy targets).
        kwargs["endpoint_spec"] = {"Mode": "dnsrr"}
        return kwargs

    def _mounts(self, mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The project's binds (checked) and the in-memory scratch folders; nothing else."""
        kept = []
        for mount in mounts:
            if mount.get("Type") == "tmpfs":
                continue  # in memory, and replaced by the scratch folders below
            source = mount.get("Source", "")
            if (
                mount.get("Type") != "bind"
                or "docker.sock" in source
                or (source not in self.mount_sources)
            ):
                raise PermissionError(
                    f"refusing to mount {source!r} ({mount.get('Type')}) into a user server: "
                    "only the project's dataset, shared folder and work space may be mounted"
                )
            kept.append(mount)
        scratch = {"SizeBytes": self.scratch_size, "Mode": 0o1777}
        small = {"SizeBytes": 64 * 1024**2, "Mode": 0o1777}
        return kept + [
            {"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": scratch},  # noqa: S108
            {"Type": "tmpfs", "Target": f"{HOME}/.local", "TmpfsOptions": small},
        ]


# --- the node agent, asked through the swarm -----------------------------------------------


class AgentError(RuntimeError):
    """A node's agent could not be asked, or answered that it failed."""

    def __init__(self, message: str, reply: dict[str, Any] | None = None):
        super().__init__(message)
        self.reply = reply or {}


def ask_agent(
    api: docker.APIClient,
    node_id: str,
    request: dict[str, Any],
    image: str,
    socket_dir: str,
    name: str,
    timeout: float = 300,
) -> dict[str, Any]:
    """Run a one-shot task on node `node_id` that asks its agent; return the agent's answer."""
    spec = ContainerSpec(
        image,
        command=["python3", "-c", CLIENT, f"/run/hds-agent/{SOCKET.rsplit('/', 1)[1]}",
                 json.dumps(request)],
        mounts=[Mount("/run/hds-agent", socket_dir, type="bind")],
        user="0:0", cap_drop=["ALL"], read_only=True,
    )  # fmt: skip
    task = TaskTemplate(
        spec,
        restart_policy=RestartPolicy(condition="none"),
        placement=Placement(constraints=[f"node.id=={node_id}"]),
        log_driver={"Name": "json-file", "Options": {"max-size": "1m"}},
    )
    api.create_service(
        task, name=name, labels={MANAGED_LABEL: "true", "org.jupyter-hds.job": "agent"}
    )
    try:
        state = _wait_for_task(api, name, timeout)
        logs = _service_output(api, name)
    finally:
        api.remove_service(name)
    lines = [
        line.split("HDS-AGENT ", 1)[1]
        for line in logs.decode(errors="replace").splitlines()
        if "HDS-AGENT " in line
    ]
    if not lines:
        raise AgentError(f"the agent on node {node_id} did not answer ({state}): {logs[-500:]!r}")
    reply = json.loads(lines[-1])
    if not reply.get("ok"):
        raise AgentError(reply.get("message") or str(reply), reply)
    return reply


def _service_output(api: docker.APIClient, service: str, wait: float = 10) -> bytes:
    """A finished service's output (the engine may take a moment to have all of it)."""
    deadline = time.monotonic() + wait
    while True:
        logs = b"".join(api.service_logs(service, stdout=True, stderr=True, follow=False))
        if b"HDS-AGENT " in logs or time.monotonic() > deadline:
            return logs
        time.sleep(0.2)


def _wait_for_task(api: docker.APIClient, service: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.1
    while time.monotonic() < deadline:
        for task in api.tasks(filters={"service": service}):
            status = task.get("Status") or {}
            if status.get("State") in ("complete", "failed", "rejected", "shutdown", "orphaned"):
                return status
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise AgentError(f"the agent task {service} did not finish within {timeout} s")


def project_node(api: docker.APIClient, project: str) -> str:
    """The node that holds the project's volume: labelled, or chosen now and labelled."""
    key = VOLUME_LABEL + project
    nodes = api.nodes()
    for node in nodes:
        if (node["Spec"].get("Labels") or {}).get(key) == "true":
            return node["ID"]
    ready = [
        n
        for n in nodes
        if n["Status"].get("State") == "ready" and n["Spec"].get("Availability") == "active"
    ]
    if not ready:
        raise AgentError("no swarm node is ready and active to hold the project's volume")
    # The node that holds the fewest project volumes (then the most memory): volumes, and so
    # projects, spread over the nodes; a project then stays where its files are.
    chosen = min(
        ready,
        key=lambda n: (
            sum(k.startswith(VOLUME_LABEL) for k in n["Spec"].get("Labels") or {}),
            -n["Description"]["Resources"].get("MemoryBytes", 0),
        ),
    )
    spec = {**chosen["Spec"], "Labels": {**(chosen["Spec"].get("Labels") or {}), key: "true"}}
    api.update_node(chosen["ID"], chosen["Version"]["Index"], spec)
    return chosen["ID"]


# --- quotas through the agent --------------------------------------------------------------


class SwarmServerQuota(ServerQuota):
    """ServerQuota whose volume lives on the project's node, handled by that node's agent."""

    async def _mount(self, project: Project) -> VolumeUsage:
        name = project.name
        async with self._lock(name):
            in_use = bool(self._running_others(name))
            try:
                reply = await self.spawner.agent("ensure", project=name, in_use=in_use,
                                                 size=project.plan.storage)  # fmt: skip
            except AgentError as error:
                if error.reply.get("error") == "too-small":
                    raise storage_too_small(project, error.reply["used"]) from None
                self.spawner.log.error("storage of project %s: %s", name, error)
                raise storage_unavailable(name) from None
        return VolumeUsage(**reply["usage"])

    async def stopped(self, reason: str) -> None:
        project, user = self.spawner.name, self.spawner.user.name
        if not project:
            return
        self._admitted.get(project, set()).discard(self.key)
        used = None
        try:
            async with self._lock(project):
                unmount = not self._running_others(project)
                reply = await self.spawner.agent("release", project=project, unmount=unmount)
            used = (reply.get("usage") or {}).get("used")
        except AgentError as error:
            self.spawner.log.error("could not release the volume of %s: %s", project, error)
        if await asyncio.to_thread(self.usage.is_open, project, user):
            from hds_quota.ledger import server_stopped

            await asyncio.to_thread(self.ledger.append, server_stopped(project, user, reason, used))


# --- the spawner ---------------------------------------------------------------------------


class HDSSwarmSpawner(ProjectSpawnerMixin, SwarmSpawner):
    """A project server as a hardened swarm service on its project's node and overlay network."""

    _network_users: ClassVar[dict[str, set[str]]] = {}
    _networks_lock_instance: ClassVar[asyncio.Lock | None] = None
    _project_locks: ClassVar[dict[str, asyncio.Lock]] = {}
    _stopped_by_hub = False
    node_id = ""

    pids_limit = Integer(
        512,
        help="Most processes and threads a user server may run at once (fork bombs stop here).",
    ).tag(config=True)

    scratch_size = Unicode(
        "1g", help="Size of the in-memory /tmp of a user server; the rest of its root is read-only."
    ).tag(config=True)

    network_pool = Unicode(
        "10.214.0.0/16",
        help="Address pool project overlay networks take a /24 from (256 projects per /16).",
    ).tag(config=True)

    gateway_pool = Unicode(
        "10.215.0.0/16",
        help="""Address pool of the hub-side networks of project gateways (one /24 each),
        on the hub's node.""",
    ).tag(config=True)

    node_image = Unicode(
        "jupyter-hds/node:bookworm",
        help="""Image of the project gateways and of the one-shot tasks that ask a node's
        agent (images/node; built by `make images`, present on every node).""",
    ).tag(config=True)

    agent_socket_dir = Unicode(
        SOCKET.rsplit("/", 1)[0],
        help="Folder of the node agent's socket on every node (jupyter-hds-node-agent.service).",
    ).tag(config=True)

    log_max_size = Unicode("10m", help="Size of a server's log before it rotates.").tag(config=True)

    @default("pull_policy")
    def _default_pull_policy(self):
        return "skip"  # images are built on every node (`make images`); there may be no registry

    @default("use_internal_ip")
    def _default_use_internal_ip(self):
        return True

    @default("name_template")
    def _default_name_template(self):
        return "{prefix}-{username}--{raw_servername}"

    @default("format_volume_name")
    def _default_format_volume_name(self):
        return lambda value, spawner: value

    @default("network_name")
    def _default_network_name(self):
        return self.project_network(self.name)

    @property
    def quota(self) -> ServerQuota:
        if "_hds_quota" not in self.__dict__:
            self.__dict__["_hds_quota"] = SwarmServerQuota(self)
        return self.__dict__["_hds_quota"]

    def member_slug(self) -> str:
        return self.escaped_name

    def project_network(self, project: str) -> str:
        return f"{self.prefix}-project-{project}"

    @property
    def hubside_network(self) -> str:
        return f"{self.prefix}-hubside-{self.name}"

    @property
    def gateway_name(self) -> str:
        return f"{self.prefix}-gateway-{self.name}"

    # -- the project's settings -------------------------------------------------------------

    async def prepare_storage(self, storage: ProjectStorage) -> None:
        """Nothing on the hub's host: the project's node's agent made the member's folders
        when it mounted the volume (`SwarmServerQuota._mount`, the agent's `ensure`)."""

    def apply_project(self, project: Project, storage: ProjectStorage) -> None:
        self.image = project.image
        self.mem_limit = project.plan.memory
        self.cpu_limit = project.plan.cpu
        self.volumes, self.read_only_volumes = {}, {}
        self._project_mounts = [
            Mount(f"{HOME}/dataset", str(project.dataset_path), type="bind", read_only=True),
            Mount(f"{HOME}/shared", str(storage.shared), type="bind"),
            Mount(f"{HOME}/work", str(storage.work), type="bind"),
        ]
        self.environment = {**self.environment, "HDS_PROJECT": project.name}
        labels = {"org.jupyter-hds.project": project.name, "org.jupyter-hds.user": self.user.name}
        self.extra_container_spec = {**self.extra_container_spec, "labels": labels}
        self.extra_create_kwargs = {**self.extra_create_kwargs, "labels": labels}
        self.extra_placement_spec = {"constraints": [f"node.id=={self.node_id}"]}

    @property
    def mounts(self):
        return list(getattr(self, "_project_mounts", []))

    @property
    def hardening(self) -> ServiceHardening:
        settings = self.project_settings
        return ServiceHardening(
            user=f"{settings.uid}:{settings.gid}",
            pids_limit=self.pids_limit,
            scratch_size=_bytes(self.scratch_size),
            network=self.network_name,
            mount_sources=frozenset(m["Source"] for m in self.mounts),
            log_max_size=self.log_max_size,
        )

    def _docker(self, method, *args, **kwargs):
        if method == "create_service" and kwargs.get("name") == self.service_name:
            kwargs = self.hardening.apply(kwargs)
        return super()._docker(method, *args, **kwargs)

    # -- the node agent ---------------------------------------------------------------------

    async def agent(self, op: str, **request: Any) -> dict[str, Any]:
        """Ask the agent of the project's node (chosen and labelled at the first ask)."""
        project = request["project"]
        self.node_id = await self.docker_call(project_node, project)
        settings = self.project_settings
        request = {"op": op, **request, "member": self.member_slug(), "uid": settings.uid,
                   "gid": settings.gid}  # fmt: skip
        name = f"{self.prefix}-agent-{project}-{secrets.token_hex(3)}"
        return await self.docker_wait(
            ask_agent, self.node_id, request, self.node_image, self.agent_socket_dir, name
        )

    # -- networks ---------------------------------------------------------------------------

    async def create_object(self):
        labels = {"org.jupyter-hds.prefix": self.prefix, "org.jupyter-hds.project": self.name}
        async with self._networks_lock():
            self._network_users.setdefault(self.network_name, set()).add(self._log_name)
            overlay = await self.docker_call(
                ensure_overlay_network, self.network_name, labels, self.network_pool
            )
            hubside = await self.docker_call(
                ensure_internal_network, self.hubside_network, labels, self.gateway_pool
            )
            await asyncio.to_thread(firewall.close_bridge, bridge_of(hubside), self.hub.port)
        # Gateways of different projects start side by side; one project's servers wait
        # for its one gateway (registered above, so no stop removes it meanwhile).
        async with self._project_locks.setdefault(self.name, asyncio.Lock()):
            gateway = await self.docker_wait(
                ensure_gateway, self.gateway_name, hubside, overlay, self.node_image,
                self.hub.port, self.port, labels,
            )  # fmt: skip
            await asyncio.to_thread(route_to, gateway)
        self.hub_connect_url = f"http://{gateway.overlay_address}:{self.hub.port}"
        return await super().create_object()

    async def get_ip_and_port(self):
        """The task's address on the project network (the hub's host routes it via the gateway)."""
        task = await self.get_task()
        network = await self.docker("inspect_network", self.network_name)
        for attachment in (task or {}).get("NetworksAttachments") or []:
            if attachment["Network"]["ID"] == network["Id"] and attachment.get("Addresses"):
                return attachment["Addresses"][0].split("/")[0], self.port
        raise RuntimeError(f"service {self.service_name} has no address on {self.network_name}")

    async def release_network(self) -> None:
        async with self._networks_lock():
            users = self._network_users.get(self.network_name, set())
            users.discard(self._log_name)
            if users:
                return
            overlay = await self.docker_call(_inspect_network, self.network_name)
            removed = await self.docker_wait(
                remove_project_networks, self.network_name, self.hubside_network,
                self.gateway_name,
            )  # fmt: skip
            if overlay:
                await asyncio.to_thread(forget_route, subnet_of(overlay))
            if removed:
                await asyncio.to_thread(firewall.forget_bridge, bridge_of(removed))

    # -- stopping ---------------------------------------------------------------------------

    async def stop(self, now=False):
        self._stopped_by_hub = True
        await super().stop(now=now)

    async def run_post_stop_hook(self):
        if not self._stopped_by_hub:
            await self.record_exit()
        self._stopped_by_hub = False
        await self.release_network()
        return await super().run_post_stop_hook()

    async def record_exit(self) -> None:
        """A service whose task ended by itself: record how, then remove the service."""
        try:
            task = await self.get_task()
        except Exception:
            self.log.exception("could not inspect %s after it stopped", self.service_name)
            return
        if not task:
            return
        status = task.get("Status") or {}
        container = status.get("ContainerStatus") or {}
        code = container.get("ExitCode")
        self.exit_reason = "exited"
        events.emit(
            "server.exited",
            actor="service:jupyterhub",
            outcome="succeeded" if code == 0 else "failed",
            project=self.name or None,
            target=f"{self.user.name}/{self.name}",
            details={"exit_code": code, "oom_killed": None, "error": status.get("Err") or None,
                     "finished_at": status.get("Timestamp")},
        )  # fmt: skip
        await self.remove_object()

    @classmethod
    def _networks_lock(cls) -> asyncio.Lock:
        if cls._networks_lock_instance is None:
            cls._networks_lock_instance = asyncio.Lock()
        return cls._networks_lock_instance

    async def docker_call(self, function, *args):
        """Run `function(api_client, *args)` in DockerSpawner's thread pool."""
        return await asyncio.wrap_future(self.executor.submit(function, self.client, *args))

    async def docker_wait(self, function, *args):
        """Run `function(api_client, *args)`, which waits on the engine, in a thread of its own.

        DockerSpawner runs every engine call of every server in one thread: a call that
        waits there (an agent's task, a gateway starting, a network letting go) would hold
        up every other server's start (20 at once took 244 s instead of 103 s). Its own
        client, made as DockerSpawner makes its one (`client`).
        """

        def call():
            kwargs: dict[str, Any] = {"version": self.client.api_version}
            if self.tls_config:
                kwargs["tls"] = docker.tls.TLSConfig(**self.tls_config)
            kwargs.update(docker.utils.kwargs_from_env())
            kwargs.update(self.client_kwargs)
            api = docker.APIClient(**kwargs)
            try:
                return function(api, *args)
            finally:
                api.close()

        return await asyncio.to_thread(call)


def _inspect_network(api: docker.APIClient, name: str) -> dict[str, Any] | None:
    for summary in api.networks(names=[name]):
        if summary["Name"] == name:
            return api.inspect_network(summary["Id"])
    return None


def _bytes(size: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    size = size.strip().lower()
    return int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size)


__all__ = ["HDSSwarmSpawner", "ServiceHardening", "BRIDGE_OPTION"]
