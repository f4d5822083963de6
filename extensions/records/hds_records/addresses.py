"""A request's client address, taken only from proxies the operator trusts; never X-Real-Ip.

Behind the hub's configurable-http-proxy, the browser's address is the last entry of
`X-Forwarded-For`: the proxy appends the peer it saw, and passes on whatever the client
wrote before it (and `X-Real-Ip` untouched). Tornado's `xheaders` lets `X-Real-Ip` win and
trusts `X-Forwarded-For` from any peer, so a client could write its own address into the
record. Here the chain is read from the right: the connection's peer first, trusted only if
it is our own proxy (or a declared one); then each `X-Forwarded-For` hop, trusted only if it
is a declared proxy. The first address not trusted is the client.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlparse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
# What the hub passes to users' servers: the operator's trusted proxies (Deployment).
TRUSTED_PROXIES_ENV = "HDS_TRUSTED_PROXIES"


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`); ValueError says which is not."""
    found = []
    for value in values:
        try:
            found.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address or network; write e.g. 10.0.0.5 or 10.0.0.0/24"
            ) from None
    return tuple(found)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _within(address, nets: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    *,
    own_proxies: Sequence[Network],
    trusted_proxies: Sequence[Network] = (),
) -> str | None:
    """The client's address: the first untrusted one of [X-Forwarded-For hops..., peer],
    read from the right.

    `own_proxies`: where our own proxy connects from (loopback for the hub; the project
    network's gateway in a user's server). `trusted_proxies`: the operator's proxies in
    front of it, trusted as the peer and as hops. A hop that is not an IP address stops the
    walk at the last trusted one's report.
    """
    address = _address(peer)
    if address is None or not _within(address, (*own_proxies, *trusted_proxies)):
        return str(address) if address is not None else peer
    for hop in reversed([h for h in (forwarded_for or "").split(",") if h.strip()]):
        hop_address = _address(hop)
        if hop_address is None:
            break
        address = hop_address
        if not _within(address, trusted_proxies):
            return str(address)
    return str(address)


def of_request(
    request, *, own_proxies: Sequence[Network], trusted_proxies: Sequence[Network] = ()
) -> str | None:
    """`client_address` of a Tornado request, from its connection's peer (not `remote_ip`,
    which `xheaders` rewrites) and its `X-Forwarded-For` header."""
    context = getattr(getattr(request, "connection", None), "context", None)
    address = getattr(context, "address", None)
    peer = address[0] if isinstance(address, tuple) and address else request.remote_ip
    return client_address(
        peer,
        request.headers.get("X-Forwarded-For"),
        own_proxies=own_proxies,
        trusted_proxies=trusted_proxies,
    )


def server_proxies(environ: Mapping[str, str] | None = None) -> tuple[Network, ...]:
    """In a user's server: our own proxy connects from the hub's host, whose address on the
    project network is the host of `$JUPYTERHUB_API_URL` (the network's gateway)."""
    url = (os.environ if environ is None else environ).get("JUPYTERHUB_API_URL", "")
    address = _address(urlparse(url).hostname)
    return (ipaddress.ip_network(address),) if address is not None else ()


def declared_proxies(environ: Mapping[str, str] | None = None) -> tuple[Network, ...]:
    """The operator's trusted proxies as the hub passes them to a user's server."""
    listed = (os.environ if environ is None else environ).get(TRUSTED_PROXIES_ENV, "")
    return networks(v for v in listed.split(",") if v.strip())
