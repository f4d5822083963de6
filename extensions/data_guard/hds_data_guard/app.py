"""The data guard as a Jupyter server extension: its settings, its routes, its audit sink."""

from __future__ import annotations

import os
import tempfile

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import (
    Bool,
    Enum,
    Float,
    Instance,
    Integer,
    List,
    TraitError,
    Unicode,
    default,
    validate,
)

from hds_records import addresses

from . import handlers, routing
from .dataset import DatasetFolder, check_dataset_dir
from .nondumpable import make_nondumpable
from .sink import AuditSink
from .spool import EventSpool


class DataGuardApp(ExtensionApp):
    """Refuse every route that hands file bytes to the browser; audit dataset access."""

    name = "hds_data_guard"
    load_other_extensions = True

    dataset_dir = Unicode(
        "dataset",
        help="The project dataset folder, relative to the server's root_dir (the home folder).",
    ).tag(config=True)

    dataset_content = Enum(
        ("text", "none"),
        default_value="text",
        help="""What the contents API returns for a file in the dataset folder.

        "text": text files and notebooks open in JupyterLab (each open is audited as
        dataset.read); raw bytes (base64) are refused. "none": no content at all, only
        names and sizes; researchers read the dataset from notebooks.
        """,
    ).tag(config=True)

    refuse_raw_reads = Bool(
        False,
        help="""Refuse raw (base64) contents-API reads of every file, not only dataset files.

        Stops images, PDFs and other binary files from reaching the browser through the
        contents API; JupyterLab's image and PDF viewers stop working. Notebooks and text
        files still open.
        """,
    ).tag(config=True)

    export_help = Unicode(
        "",
        help="""A sentence added to every refusal telling researchers how results may leave
        the platform, e.g. "To take results out, ask your data custodian for an output review."
        """,
    ).tag(config=True)

    events_url = Unicode(
        help="""The hub's audit endpoint for this server's events.

        Default: $JUPYTERHUB_API_URL/hds/audit/events. Empty (no hub): events go to the
        server log only.
        """,
    ).tag(config=True)

    events_token = Unicode(
        help="Token for the audit endpoint; default $JUPYTERHUB_API_TOKEN (the server's token)."
    )

    project = Unicode(
        help="The project this server belongs to; default $JUPYTERHUB_SERVER_NAME."
    ).tag(config=True)

    spool_path = Unicode(
        help="""File holding a copy of the events the hub has not accepted yet.

        Default: <temp dir>/hds-data-guard/events.jsonl; user containers have /tmp on a
        tmpfs, which lives as long as the container, across hub restarts. The events
        themselves wait in the server's memory; a server started later replays this copy.
        """,
    ).tag(config=True)

    delivery_batch_size = Integer(100, help="Most events sent to the hub in one request.").tag(
        config=True
    )

    delivery_max_delay = Float(
        60.0, help="Longest wait, in seconds, between two attempts to reach the hub."
    ).tag(config=True)

    delivery_timeout = Float(
        5.0,
        help="""Seconds to wait for the hub to take an event before the guarded request goes
        on with the event queued (and spooled) for replay.""",
    ).tag(config=True)

    max_pending = Integer(
        10_000,
        help="""Most events waiting in memory for the hub. Past it an event is dropped (its
        number shows the hub the gap) and audited reads are refused.""",
    ).tag(config=True)

    trusted_proxies = List(
        Unicode(),
        help="""Proxies in front of the hub's proxy whose X-Forwarded-For entries are
        trusted (addresses or networks). The hub's own proxy (the host of
        $JUPYTERHUB_API_URL) is always trusted as the peer. Default: $HDS_TRUSTED_PROXIES
        (comma-separated, set by the hub from c.Deployment.trusted_proxies).""",
    ).tag(config=True)

    harden_process = Bool(
        True,
        help="""Mark the server process non-dumpable at start, so code running as the same
        user (kernels, terminals) cannot trace it or rewrite its memory to disable the guard.
        """,
    ).tag(config=True)

    sink = Instance(AuditSink, allow_none=True)
    dataset = Instance(DatasetFolder, allow_none=True)
    _proxies: tuple | None = None

    @default("events_url")
    def _default_events_url(self):
        api = os.environ.get("JUPYTERHUB_API_URL", "")
        return url_path_join(api, "hds/audit/events") if api else ""

    @default("events_token")
    def _default_events_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("project")
    def _default_project(self):
        # Servers are named by project (JupyterHub named servers).
        return os.environ.get("JUPYTERHUB_SERVER_NAME", "")

    @default("trusted_proxies")
    def _default_trusted_proxies(self):
        return [str(net) for net in addresses.declared_proxies()]

    @validate("trusted_proxies")
    def _validate_trusted_proxies(self, proposal):
        try:
            addresses.networks(proposal.value)
        except ValueError as error:
            raise TraitError(f"DataGuardApp.trusted_proxies: {error}") from None
        return proposal.value

    def client_address(self, request) -> str | None:
        """The browser's address for an event: never a header the client controls."""
        if self._proxies is None:
            self._proxies = (addresses.server_proxies(), addresses.networks(self.trusted_proxies))
        own, trusted = self._proxies
        return addresses.of_request(request, own_proxies=own, trusted_proxies=trusted)

    @default("spool_path")
    def _default_spool_path(self):
        return os.path.join(tempfile.gettempdir(), "hds-data-guard", "events.jsonl")

    @validate("dataset_dir")
    def _validate_dataset_dir(self, proposal):
        try:
            return check_dataset_dir(proposal.value)
        except ValueError as error:
            raise TraitError(f"DataGuardApp.{error}") from None

    def initialize_settings(self):
        if self.harden_process:
            make_nondumpable()
        root_dir = getattr(self.serverapp.contents_manager, "root_dir", None)
        if not root_dir:
            raise RuntimeError(
                "the data guard needs a file-based contents manager (with a root_dir); "
                f"{type(self.serverapp.contents_manager).__name__} has none"
            )
        self.dataset = DatasetFolder(root_dir, self.dataset_dir)
        self.sink = AuditSink(
            EventSpool(self.spool_path),
            self.events_url,
            self.events_token,
            log=self.log,
            project=self.project,
            batch_size=self.delivery_batch_size,
            max_delay=self.delivery_max_delay,
            timeout=self.delivery_timeout,
            max_pending=self.max_pending,
        )
        if not self.events_url:
            self.log.warning("data guard: no hub audit endpoint (JUPYTERHUB_API_URL unset); "
                             "events go to the server log only")  # fmt: skip
        self.settings[handlers.SETTINGS_KEY] = self

    def initialize_handlers(self):
        self.handlers.extend(handlers.guarded_routes())

    def initialize(self):
        """Register the guard, then check that nothing loaded earlier answers its routes.

        The image sets ServerApp.reraise_server_extension_failures, so this error stops
        the server before it serves anything.
        """
        super().initialize()
        wrong = routing.unguarded_routes(self.serverapp.web_app, self.serverapp.base_url)
        if wrong:
            raise RuntimeError(f"data guard cannot start: {'; '.join(wrong)}")

    async def _start_jupyter_server_extension(self, serverapp):
        """Check the routes again once every extension is in, then replay leftover events."""
        wrong = routing.unguarded_routes(serverapp.web_app, serverapp.base_url)
        if wrong:
            self.log.critical("data guard: %s; stopping the server rather than serve files",
                              "; ".join(wrong))  # fmt: skip
            serverapp.stop()
            return
        self.sink.start()
        self.log.info("data guard active: dataset %s/, hub events %s",
                      self.dataset.api_path, self.events_url or "off")  # fmt: skip

    async def stop_extension(self):
        if self.sink is not None:
            await self.sink.close()
