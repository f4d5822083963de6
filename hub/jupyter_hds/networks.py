"""Internal Docker networks for user servers: no route out, one gateway the hub listens on."""

from __future__ import annotations

from typing import Any

import docker

MANAGED_LABEL = "org.jupyter-hds.managed"


def ensure_internal_network(
    api: docker.APIClient, name: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return the inspected internal bridge network `name`, creating it when missing.

    An existing network of that name that is not internal is refused: attaching
    a user server to it would give that server a route to the outside.
    """
    found = [n for n in api.networks(names=[name]) if n["Name"] == name]
    if found:
        network = api.inspect_network(found[0]["Id"])
    else:
        created = api.create_network(
            name,
            driver="bridge",
            internal=True,
            check_duplicate=True,
            labels={MANAGED_LABEL: "true", **(labels or {})},
        )
        network = api.inspect_network(created["Id"])
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
    raise RuntimeError(f"Docker network {network.get('Name')!r} has no gateway address")


def remove_network_if_unused(api: docker.APIClient, name: str) -> bool:
    """Remove network `name` when no container is attached to it; True if removed."""
    for summary in api.networks(names=[name]):
        if summary["Name"] != name:
            continue
        if api.inspect_network(summary["Id"]).get("Containers"):
            return False
        api.remove_network(summary["Id"])
        return True
    return False
