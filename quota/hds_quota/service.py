"""The usage service (a hub service): the hourly census, and the usage page with CSV exports.

Run by the hub (c.JupyterHub.services) as `python -m hds_quota.service`. It asks the hub's
API (its own token) for the plans and where the ledger and volumes are, then for the
projects and running servers at each census.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import ioloop, web
from traitlets import Float, default
from traitlets.config import Application

from jupyter_hds.hub_api import HubAPI, HubAPIError

from .census import take_census
from .hub_settings import HubQuotaSettings
from .ledger import Ledger
from .pages import SessionsCSV, Stylesheet, SummaryCSV, SummaryPage
from .usage import Usage
from .volumes import ProjectVolumes


class UsageService(Application):
    """Records every project's plan, members and storage each hour; serves the usage page."""

    name = "hds-usage"
    description = __doc__

    census_interval = Float(
        3600.0, help="Seconds between two censuses of the projects (plan, members, storage)."
    ).tag(config=True)
    aliases = {"census-interval": "UsageService.census_interval"}

    @default("log_level")
    def _default_log_level(self):
        return logging.INFO

    def initialize(self, argv=None):
        super().initialize(argv)
        self.api = HubAPI()
        settings = HubQuotaSettings.fetch(self.api)
        self.plans = settings.plans
        self.ledger = Ledger(settings.usage_dir)
        self.volumes = ProjectVolumes(settings.volumes_root, settings.storage_root)
        # Each project's last census record: an unchanged project is not written again.
        self.census_last: dict[str, tuple[str, str]] = {}

    def census(self) -> None:
        try:
            written = take_census(
                self.ledger,
                self.plans,
                self.volumes,
                self.api.groups(),
                lambda: set(self.api.active_servers()),
                self.census_last,
            )
            self.log.info("census: %d ledger records", written)
        except HubAPIError as error:
            self.log.error("census failed, next in %s s: %s", self.census_interval, error)
        except Exception:
            self.log.exception("census failed, next in %s s", self.census_interval)

    async def census_soon(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.census)

    def web_app(self) -> web.Application:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/usage/")
        return web.Application(
            [
                (prefix, SummaryPage),
                (url_path_join(prefix, "summary.csv"), SummaryCSV),
                (url_path_join(prefix, "sessions.csv"), SessionsCSV),
                (url_path_join(prefix, "style.css"), Stylesheet),
                (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            ],
            cookie_secret=secrets.token_bytes(32),
            usage=Usage(self.ledger),
            prefix=prefix,
            hub_prefix=url_path_join(os.environ.get("JUPYTERHUB_BASE_URL", "/"), "hub/"),
        )

    def start(self):
        url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8083"))
        self.web_app().listen(url.port or 80, url.hostname or "127.0.0.1")
        self.log.info("usage service on %s, ledger in %s", url.geturl(), self.ledger.directory)
        loop = ioloop.IOLoop.current()
        loop.add_callback(self.census_soon)
        ioloop.PeriodicCallback(self.census_soon, self.census_interval * 1000).start()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: loop.add_callback_from_signal(loop.stop))
        loop.start()


main = UsageService.launch_instance

if __name__ == "__main__":
    main()
