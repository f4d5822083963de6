"""With user servers on subdomains, each person's servers get their own origin, services the hub's."""

from __future__ import annotations

from traitlets.config import Config

from jupyter_hds import origins


def test_users_get_their_own_subdomain_and_services_stay_on_the_hubs():
    hook = origins.servers_apart_services_home
    assert hook("researcher", "hub.localhost", "user") == "researcher.hub.localhost"
    assert hook("audit", "hub.localhost", "service") == "hub.localhost"
    assert hook("Zoé", "hub.example.org", "user").endswith(".hub.example.org")


def test_configure_sets_the_hook_idempotently():
    c = Config()
    origins.configure(c, None)
    origins.configure(c, None)
    assert c.JupyterHub.subdomain_hook is origins.servers_apart_services_home
