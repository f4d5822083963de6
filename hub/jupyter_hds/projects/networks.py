"""Internal Docker networks for user servers: no route out, one gateway the hub listens on."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection
from typing import Any

import docker
from docker.types import IPAMConfig, IPAMPool

MANAGED_LABEL = "org.jupyter-hds.managed"
BRIDGE_OPTION = "com.docker.network.bridge.name"


def bridge_name(network_name: str) -> str:
    """A stable host interface name for a network (at most 15 characters, as Linux requires)."""
    return "hds" + hashlib.sha256(network_name.encode()).hexdigest()[:12]


def bridge_of(network: dict[str, Any]) -> str:
    """The host interface of an inspected bridge network."""
    return (network.get("Options") or {}).get(BRIDGE_OPTION) or f"br-{network['Id'][:12]}"


def free_subnet(
    api: docker.APIClient, pool: str, prefix: int = 24, taken: Collection[str] = ()
) -> str:
    """The first subnet of `pool` that no Docker network uses yet, nor any of `taken` (the
    subnets of networks being created)."""
    used = [
        ipaddress.ip_network(config["Subnet"])
        for summary in api.networks()
        for config in (summary.get("IPAM") or {}).get("Config") or []
        if config.get("Subnet") and ":" not in config["Subnet"]
    ] + [ipaddress.ip_network(subnet) for subnet in taken]
    for subnet in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
        if not any(subnet.overlaps(other) for other in used):
            return str(subnet)
    raise RuntimeError(f"no free /{prefix} left in the network pool {pool}; widen it")


def ensure_internal_network(
    api: docker.APIClient,
    name: str,
    labels: dict[str, str] | None = None,
    pool: str | None = None,
) -> dict[str, Any]:
    """Return the inspected internal bridge network `name`, creating it when missing.

    An existing network of that name that is not internal is refused: attaching
    a user server to it would give that server a route to the outside. Two calls that may
    create networks at once must not run at the same time (both would choose one subnet):
    callers that run several at once use `find_internal_network` and, when it finds none,
    `create_internal_network` alone at a time.
    """
    return find_internal_network(api, name) or create_internal_network(api, name, labels, pool)


def find_internal_network(api: docker.APIClient, name: str) -> dict[str, Any] | None:
    """The inspected network `name` (None when missing), refused if it is not internal."""
    found = [n for n in api.networks(names=[name]) if n["Name"] == name]
    return _internal(api.inspect_network(found[0]["Id"])) if found else None


def create_internal_network(
    api: docker.APIClient,
    name: str,
    labels: dict[str, str] | None = None,
    pool: str | None = None,
    subnet: str | None = None,
) -> dict[str, Any]:
    """Create the internal bridge network `name` on `subnet`, or else on the first free subnet
    of `pool`, and return it inspected (an existing one of that name is returned instead)."""
    found = find_internal_network(api, name)
    if found:
        return found
    subnet = subnet or (free_subnet(api, pool) if pool else None)
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)]) if subnet else None
    created = api.create_network(
        name,
        driver="bridge",
        internal=True,
        check_duplicate=True,
        ipam=ipam,
        options={BRIDGE_OPTION: bridge_name(name)},
        labels={MANAGED_LABEL: "true", **(labels or {})},
    )
    return _internal(api.inspect_network(created["Id"]))


def _internal(network: dict[str, Any]) -> dict[str, Any]:
    name = network.get("Name")
    if not network.get("Internal"):
        raise RuntimeError(
            f"Docker network {name!r} exists but is not internal (it has a route out); "
            f"remove it with `docker network rm {name}` and let Jupyter HDS create it"
        )
    return network


def gateway_address(network: dict[str, Any]) -> str:
    """The host's address on `network`: where containers on it reach the hub."""
    for pool in network.get("IPAM", {}).get("Config") or []:
        if pool.get("Gateway"):
            return pool["Gateway"]
        if pool.get("Subnet") and ":" not in pool["Subnet"]:
            # Docker gives the bridge the subnet's first address when none is named.
            return str(next(ipaddress.ip_network(pool["Subnet"]).hosts()))
    raise RuntimeError(f"Docker network {network.get('Name')!r} has no gateway address")


def remove_network_if_unused(api: docker.APIClient, name: str) -> dict[str, Any] | None:
    """Remove network `name` when no container is attached to it; return it if removed."""
    for summary in api.networks(names=[name]):
        if summary["Name"] != name:
            continue
        network = api.inspect_network(summary["Id"])
        if network.get("Containers"):
            return None
        api.remove_network(summary["Id"])
        return network
    return None
