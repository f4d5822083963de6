"""The base of the hub's own services (audit, usage, project guard): one way to run them.

Each is a traitlets application that the hub starts (c.JupyterHub.services): it loads the
HDS settings the hub published (`settings.load`), logs like the others, talks to the hub's
API with its own token, and exits promptly when the hub stops it (SIGINT or SIGTERM) or dies.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
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


HUB_PID_ENV = "HDS_HUB_PID"  # the hub process that started the service
PR_SET_PDEATHSIG = 1  # prctl(2)
# Work a stopping service still waits for (a ledger line being written, say), at most.
THREADS_GRACE = 5.0


def service_environment(deployment: Deployment) -> dict[str, str]:
    """What the hub passes to each of its services: where the state (and settings) are.

    Services also inherit the hub's signal dispositions. JupyterHub stops a service with
    SIGINT and waits 30 s before SIGTERM; a hub started in the background of a shell ignores
    SIGINT, and so would its services (the idle culler does not set its own handler), so the
    hub process takes SIGINT's default back before it starts any.
    """
    interruptible()
    return {STATE_ENV: deployment.state_dir, HUB_PID_ENV: str(os.getpid())}


def interruptible() -> None:
    """Give SIGINT its default action (KeyboardInterrupt) again in this process if ignored."""
    try:
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: nothing this process could start inherits it
        pass


def die_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent (the hub) ends, however it ends (`kill -9`).

    Without it a killed hub leaves its services running: a second audit writer, a culler
    with a stale token, ports the next hub's services cannot take.
    """
    if not sys.platform.startswith("linux"):
        return
    hub = int(os.environ.get(HUB_PID_ENV) or os.getppid())
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() != hub:  # the hub ended while this process was starting
        os.kill(os.getpid(), signal.SIGTERM)


class HubService(Application):
    """A hub service: settings from the hub, the hub's API, a prompt exit."""

    @default("log_level")
    def _default_log_level(self):
        return logging.INFO

    @default("log_format")
    def _default_log_format(self):
        return LOG_FORMAT

    _stopping = False

    @classmethod
    def launch_instance(cls, argv=None, **kwargs):
        """Run the service until the hub stops it, then end the process at once.

        Its `stop()` has released what it holds, and the work in its threads is done; the
        interpreter's own teardown (seconds with pandas, DuckDB and pyarrow loaded, on a busy
        host) is skipped: the hub stops its services one after another and waits for each.
        """
        super().launch_instance(argv, **kwargs)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def initialize(self, argv=None):
        die_with_parent()
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
        """Run the event loop until the hub stops the service (SIGINT, SIGTERM)."""
        loop = ioloop.IOLoop.current()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.asyncio_loop.add_signal_handler(number, self._exit)
        self.log.info("%s started", self.name)
        loop.start()
        self._finish_threads(loop.asyncio_loop)

    def _exit(self):
        if self._stopping:
            return
        self._stopping = True
        try:
            self.stop()
        finally:
            ioloop.IOLoop.current().stop()

    def _finish_threads(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait (briefly) for work the service handed to threads (`asyncio.to_thread`)."""
        waiting = asyncio.wait_for(loop.shutdown_default_executor(), THREADS_GRACE)
        try:
            loop.run_until_complete(waiting)
        except TimeoutError:
            self.log.warning("work still running after %s s left behind", THREADS_GRACE)

    def stop(self):
        """Release what the service holds (files, threads) before the loop ends."""
