"""Hub service stopping servers whose owner left the project, or whose project closed or expired."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterable
from datetime import date
from typing import Any

from .hub_api import HubAPI, HubAPIError
from .projects import expiry

log = logging.getLogger("jupyter_hds.project_guard")


def why_stop(user: str, server: str, groups: dict[str, dict[str, Any]], today: date) -> str | None:
    """The reason `user`'s server `server` must stop now, or None when it may run."""
    group = groups.get(server)
    if not server:
        return "servers must belong to a project"
    if group is None:
        return f"project {server} was closed"
    if user not in group.get("users", []):
        return f"{user} is no longer a member of {server}"
    properties = group.get("properties") or {}
    try:
        expires = expiry(properties)
    except ValueError:
        return f"project {server} has an unreadable expiry {properties['expires']!r}"
    if expires is not None and today > expires:
        return f"project {server} expired on {expires}"
    return None


def sweep(api: HubAPI, today: date | None = None) -> list[tuple[str, str, str]]:
    """Stop every server that must stop; return (user, server, reason) for each."""
    groups = api.groups()
    stopped = []
    for user, server in list(api.active_servers()):
        reason = why_stop(user, server, groups, today or date.today())
        if reason:
            log.warning("stopping %s/%s: %s", user, server, reason)
            api.request("DELETE", f"/users/{user}/servers/{server}", ok=(202, 204, 404))
            stopped.append((user, server, reason))
    return stopped


def run(api: HubAPI, interval: float, rounds: Iterable[int] | None = None) -> None:
    for _ in rounds if rounds is not None else iter(int, 1):
        try:
            sweep(api)
        except HubAPIError as error:
            log.error("sweep failed, retrying in %s s: %s", interval, error)
        time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=5, help="seconds between sweeps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(name)s] %(message)s")
    run(HubAPI(), args.interval)


if __name__ == "__main__":
    main()
