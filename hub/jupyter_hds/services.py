"""The base of the hub's own services (audit, usage, project guard): one way to run them.

Each is a traitlets application that the hub starts (c.JupyterHub.services): it loads the
HDS settings the hub published (`settings.load`), logs like the others, talks to the hub's
API with its own token, and exits promptly when the hub stops it (SIGINT or SIGTERM).
"""

from __future__ import annotations

import logging
import os
import signal
from urllib.parse import urlparse

from jupyterhub.utils import url_path_join
from tornado import ioloop
from traitlets import default
from traitlets.config import Application

from hds_records import addresses

from . import events, settings
from .audit.inbox import Inbox
from .audit.intake import from_hub
from .deployment import STATE_ENV, Deployment
from .hub_api import HubAPI

LOG_FORMAT = "[%(levelname)1.1s %(asctime)s.%(msecs).03d %(name)s] %(message)s"


def service_environment(deployment: Deployment) -> dict[str, str]:
    """What the hub passes to each of its services: where the state (and settings) are."""
    return {STATE_ENV: deployment.state_dir}


class HubService(Application):
    """A hub service: settings from the hub, the hub's API, a prompt exit."""

    @default("log_level")
    def _default_log_level(self):
        return logging.INFO

    @default("log_format")
    def _default_log_format(self):
        return LOG_FORMAT

    def initialize(self, argv=None):
        super().initialize(argv)
        self.update_config(settings.load())
        self.update_config(self.cli_config)  # the command line wins over the hub's settings
        self.deployment = Deployment(parent=self)
        self.api = HubAPI()
        events.subscribe(self.record_event)

    @property
    def service_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_NAME") or self.name

    def record_event(self, event: events.Event) -> None:
        """Events this service raises go to the audit record's inbox, as the hub's do."""
        inbox, source = Inbox(self.deployment.audit), self.service_name.replace(".", "-")
        try:
            inbox.put([from_hub(event, reported_by=f"service:{source}")], source=source)
        except OSError:
            self.log.exception("audit: could not record %s", event.to_dict())

    def client_address(self, request) -> str | None:
        """Where a request to this service came from, through the hub's proxy (on loopback)
        and the operator's trusted proxies only; never from X-Real-Ip."""
        return addresses.of_request(
            request,
            own_proxies=addresses.LOOPBACK,
            trusted_proxies=self.deployment.trusted_networks,
        )

    @property
    def service_prefix(self) -> str:
        """The URL prefix the proxy routes to this service."""
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.service_name}/")

    @property
    def hub_prefix(self) -> str:
        return url_path_join(os.environ.get("JUPYTERHUB_BASE_URL", "/"), "hub/")

    @property
    def listen_address(self) -> tuple[str, int]:
        """Where the hub asked this service to listen (its `url`), loopback by default."""
        url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
        return url.hostname or "127.0.0.1", url.port or 80

    def start(self):
        """Run the event loop until the hub stops the service."""
        loop = ioloop.IOLoop.current()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: loop.add_callback_from_signal(self._exit))
        self.log.info("%s started", self.name)
        loop.start()

    def _exit(self):
        try:
            self.stop()
        finally:
            ioloop.IOLoop.current().stop()

    def stop(self):
        """Release what the service holds (files, threads) before the loop ends."""
