"""The usage service (a hub service): the census, the compute watch, and the usage page.

Run by the hub (c.JupyterHub.services). With its own token it reads the projects and the
running servers from the hub's API; it records each project's plan, members and storage in
the usage ledger (the census, hourly), samples the storage of projects in use, stops the
servers of projects that used their month's compute (through the hub's API, as the idle
culler stops idle ones), and serves the monthly summary to the hosting team.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Float

from hds_quota.admission import hours
from hds_quota.census import project_records, take_census
from hds_quota.compute import OutOfCompute, out_of_compute
from hds_quota.ledger import Ledger, server_stopped, utcnow
from hds_quota.plans import Plan, Plans
from hds_quota.settings import Quotas
from hds_quota.usage import Month, Usage
from hds_quota.volumes import ProjectVolumes

from .. import events
from ..hub_api import HubAPIError
from ..policy.projects import is_project
from ..services import HubService
from .pages import SessionsCSV, Stylesheet, SummaryCSV, SummaryPage

PORT = 8083


class UsageService(HubService):
    """Records projects' usage, stops what is out of compute, serves the usage page."""

    name = "hds-usage"
    description = __doc__

    census_interval = Float(
        3600.0, help="Seconds between two censuses of the projects (plan, members, storage)."
    ).tag(config=True)
    aliases = {"census-interval": "UsageService.census_interval"}

    def initialize(self, argv=None):
        super().initialize(argv)
        self.plans = Plans(parent=self)
        self.quotas = Quotas(parent=self)
        self.ledger = Ledger(self.deployment.usage)
        self.usage = Usage(self.ledger)
        self.volumes = ProjectVolumes(self.deployment.volumes, self.deployment.projects)
        # Each project's last census record: an unchanged project is not written again.
        self.census_last: dict[str, tuple[str, str]] = {}
        self.sampled_at = float("-inf")

    # -- what the hub says ----------------------------------------------------------------

    def projects(self) -> dict[str, dict[str, Any]]:
        """The project groups' models (users, properties), by name."""
        return {
            name: group
            for name, group in self.api.groups().items()
            if is_project(group.get("properties") or {})
        }

    def plan_of(self, projects: dict[str, dict[str, Any]]) -> dict[str, Plan]:
        found = {}
        for name, group in projects.items():
            try:
                found[name] = self.plans.get(str((group.get("properties") or {}).get("plan")))
            except ValueError:
                continue  # an invalid project: the project guard's and the admins' business
        return found

    # -- the census -----------------------------------------------------------------------

    def census(self) -> None:
        written = take_census(
            self.ledger,
            self.plans,
            self.volumes,
            self.projects(),
            lambda: set(self.api.active_servers()),
            self.census_last,
        )
        self.log.info("census: %d ledger records", written)

    # -- the compute watch ----------------------------------------------------------------

    def watch(self) -> list[OutOfCompute]:
        """Stop the servers of projects out of compute; sample storage of projects in use."""
        running = set(self.api.active_servers())
        if not running:
            return []
        projects = self.projects()
        used = self.usage.cpu_hours_by_project(Month.of(utcnow()))
        stops = out_of_compute(running, self.plan_of(projects), used)
        for stop in stops:
            self.stop_for_compute(stop)
        if time.monotonic() - self.sampled_at >= self.quotas.storage_sample_interval:
            self.sampled_at = time.monotonic()
            in_use = {project: projects[project] for _, project in running if project in projects}
            records = project_records(in_use, self.plans, self.volumes)
            if records:
                self.ledger.append(*records)
        return stops

    def stop_for_compute(self, stop: OutOfCompute) -> None:
        """Record why, then stop the server through the hub's API."""
        month = Month.of(utcnow())
        self.log.warning(
            "stopping %s/%s: project %s used %s of its %s CPU-hours in %s",
            stop.user, stop.project, stop.project, hours(stop.used),
            hours(stop.plan.cpu_hours_month), month,
        )  # fmt: skip
        events.emit(
            "quota.stopped",
            actor="service:usage",
            outcome="succeeded",
            project=stop.project,
            target=f"{stop.user}/{stop.project}",
            details={
                "reason": "quota-compute", "plan": stop.plan.name, "month": str(month),
                "cpu_hours_used": round(stop.used, 4),
                "cpu_hours_month": stop.plan.cpu_hours_month,
            },
        )  # fmt: skip
        # The ledger's word first: the hub, seeing the session closed, does not close it again.
        self.ledger.append(server_stopped(stop.project, stop.user, "quota-compute"))
        self.api.request("DELETE", f"/users/{stop.user}/servers/{stop.project}", ok=(202, 204, 404))

    # -- serving --------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        prefix = self.service_prefix
        return web.Application(
            [
                (prefix, SummaryPage),
                (url_path_join(prefix, "summary.csv"), SummaryCSV),
                (url_path_join(prefix, "sessions.csv"), SessionsCSV),
                (url_path_join(prefix, "style.css"), Stylesheet),
                (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            ],
            cookie_secret=secrets.token_bytes(32),
            usage=self.usage,
            prefix=prefix,
            hub_prefix=self.hub_prefix,
        )

    def start(self):
        host, port = self.listen_address
        self.web_app().listen(port, host)
        self.log.info("usage page on %s:%s, ledger in %s", host, port, self.ledger.directory)
        self.every(self.census_interval, self.census, now=True)
        self.every(self.quotas.compute_check_interval, self.watch)
        super().start()

    def every(self, seconds: float, work, now: bool = False) -> None:
        """Run blocking `work` in a thread every `seconds`; a failure is logged, not fatal."""

        async def run():
            try:
                await asyncio.to_thread(work)
            except HubAPIError as error:
                self.log.error("%s failed, next in %s s: %s", work.__name__, seconds, error)
            except Exception:
                self.log.exception("%s failed, next in %s s", work.__name__, seconds)

        PeriodicCallback(run, seconds * 1000).start()
        if now:
            IOLoop.current().add_callback(run)


main = UsageService.launch_instance

if __name__ == "__main__":
    main()
