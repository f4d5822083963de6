"""A request's client address: through our own proxy and declared ones only, never X-Real-Ip."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hds_records import addresses
from hds_records.addresses import LOOPBACK, client_address, networks

GATEWAY = networks(["172.30.0.1"])
NGINX = networks(["127.0.0.1"])

# (case_id, peer, X-Forwarded-For, own proxies, trusted proxies, expected client)
CASES = [
    ("direct-client", "203.0.113.9", None, LOOPBACK, (), "203.0.113.9"),
    ("direct-client-forging-xff", "203.0.113.9", "10.9.9.9", LOOPBACK, (), "203.0.113.9"),
    ("through-our-proxy", "127.0.0.1", "203.0.113.9", LOOPBACK, (), "203.0.113.9"),
    ("client-wrote-xff-before-our-proxy", "127.0.0.1", "10.9.9.9, 203.0.113.9", LOOPBACK, (), "203.0.113.9"),
    ("loopback-client-forging-xff", "127.0.0.1", "10.9.9.9, 127.0.0.1", LOOPBACK, (), "127.0.0.1"),
    ("nginx-on-loopback-declared", "127.0.0.1", "10.9.9.9, 203.0.113.9, 127.0.0.1", LOOPBACK, NGINX, "203.0.113.9"),
    ("nginx-on-loopback-not-declared", "127.0.0.1", "203.0.113.9, 127.0.0.1", LOOPBACK, (), "127.0.0.1"),
    ("declared-network", "127.0.0.1", "203.0.113.9, 10.0.0.5", LOOPBACK, networks(["10.0.0.0/24"]), "203.0.113.9"),
    ("in-a-server-through-our-proxy", "172.30.0.1", "10.9.9.9, 203.0.113.9", GATEWAY, (), "203.0.113.9"),
    ("in-a-server-from-a-neighbour", "172.30.0.7", "203.0.113.9", GATEWAY, (), "172.30.0.7"),
    ("in-a-server-from-its-own-kernel", "127.0.0.1", "203.0.113.9", GATEWAY, (), "127.0.0.1"),
    ("garbage-hop-stops-the-walk", "127.0.0.1", "203.0.113.9, unknown", LOOPBACK, (), "127.0.0.1"),
    ("empty-xff", "127.0.0.1", "", LOOPBACK, (), "127.0.0.1"),
    ("ipv6", "::1", "2001:db8::7", LOOPBACK, (), "2001:db8::7"),
    ("ipv4-mapped-peer", "::ffff:127.0.0.1", "203.0.113.9", LOOPBACK, (), "203.0.113.9"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "peer", "xff", "own", "trusted", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_client_address(case_id, peer, xff, own, trusted, expected):
    found = client_address(peer, xff, own_proxies=own, trusted_proxies=trusted)
    assert found == expected


def tornado_request(peer: str, **headers: str):
    """What `of_request` reads of a Tornado request; remote_ip as xheaders would have set it."""
    context = SimpleNamespace(address=(peer, 51234))
    return SimpleNamespace(
        connection=SimpleNamespace(context=context),
        remote_ip=headers.get("X-Real-Ip", peer),
        headers=headers,
    )


def test_x_real_ip_is_never_read():
    request = tornado_request("127.0.0.1", **{"X-Real-Ip": "10.9.9.9",
                                              "X-Forwarded-For": "203.0.113.9"})  # fmt: skip
    assert addresses.of_request(request, own_proxies=LOOPBACK) == "203.0.113.9"


def test_bad_proxy_settings_say_what_to_write():
    with pytest.raises(ValueError, match="write e.g. 10.0.0.5 or 10.0.0.0/24"):
        networks(["nginx.internal"])


def test_in_a_server_our_proxy_is_the_hubs_host_on_the_project_network():
    environ = {"JUPYTERHUB_API_URL": "http://172.30.0.1:8081/hub/api",
               addresses.TRUSTED_PROXIES_ENV: "127.0.0.1, 10.0.0.0/24"}  # fmt: skip
    assert addresses.server_proxies(environ) == GATEWAY
    assert addresses.declared_proxies(environ) == networks(["127.0.0.1", "10.0.0.0/24"])
    assert addresses.server_proxies({"JUPYTERHUB_API_URL": "http://hub:8081/"}) == ()
    assert addresses.declared_proxies({}) == ()
