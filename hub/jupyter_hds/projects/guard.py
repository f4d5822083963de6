"""The project guard (a hub service): stops servers the access rule no longer allows.

A member removed from a project, a project closed (its group deleted) or past its end
date: their servers stop within one sweep (`ProjectGuard.interval`), through the hub's API.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date

from tornado.ioloop import PeriodicCallback
from traitlets import Float

from ..hub_api import HubAPI, HubAPIError
from ..policy.access import ProjectFacts, access_problem
from ..services import HubService

log = logging.getLogger("jupyter_hds.projects.guard")


def sweep(api: HubAPI, today: date | None = None) -> list[tuple[str, str, str]]:
    """Stop every server that must stop; return (user, server, reason) for each."""
    groups = {name: ProjectFacts.from_model(model) for name, model in api.groups().items()}
    stopped = []
    for user, server in list(api.active_servers()):
        problem = access_problem(user, server, groups.get(server), today or date.today())
        if problem is not None:
            log.warning("stopping %s/%s: %s", user, server, problem.message)
            api.request("DELETE", f"/users/{user}/servers/{server}", ok=(202, 204, 404))
            stopped.append((user, server, problem.message))
    return stopped


class ProjectGuard(HubService):
    """Sweeps the running servers every `interval` seconds."""

    name = "hds-project-guard"
    description = __doc__

    interval = Float(5.0, help="Seconds between two sweeps of the running servers.").tag(
        config=True
    )
    aliases = {"interval": "ProjectGuard.interval"}

    def start(self):
        PeriodicCallback(self.sweep, self.interval * 1000).start()
        super().start()

    async def sweep(self) -> None:
        try:
            await asyncio.to_thread(sweep, self.api)
        except HubAPIError as error:
            self.log.error("sweep failed, retrying in %s s: %s", self.interval, error)


main = ProjectGuard.launch_instance

if __name__ == "__main__":
    main()
