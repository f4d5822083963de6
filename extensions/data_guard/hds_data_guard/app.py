"""The data guard as a Jupyter server extension: its settings, its routes, its audit sink."""

from __future__ import annotations

import json
import os
import tempfile

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import (
    Bool,
    Dict,
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

from . import handlers, routing, terminals
from .budget import BrowserBudget, Served
from .copies import DatasetCopies
from .dataset import DatasetFolder, check_dataset_dir
from .kernels import BudgetedConnection
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

    record_reads_above = Integer(
        1024 * 1024,
        min=0,
        help="""Record every file read through the browser (contents API, any format) of at
        least this many bytes, as `file.read` with its path, size and sha256, before it is sent.
        Reads of dataset files (and of copies of them) are always recorded, as `dataset.read`.
        0 records every read.""",
    ).tag(config=True)

    browser_bytes_day = Integer(
        min=0,
        help="""How many bytes each person may receive in the browser from this server in a
        UTC day: file contents (contents API) and kernel messages (outputs, replies). Past it,
        reads are refused and outputs are not sent, with a note pointing to the airlock.
        0: no limit. Default: $HDS_BROWSER_BYTES_DAY, set by the hub from the project's plan
        (browser_bytes_day).""",
    ).tag(config=True)

    browser_served = Dict(
        help="""What each person was already sent today, as the hub's record counts it:
        {"day": "YYYY-MM-DD", "served": {person: bytes}, "exceeded": [person, ...]}, so a
        restarted server goes on counting. Default: $HDS_BROWSER_SERVED (JSON), set by the hub
        at each start.""",
    ).tag(config=True)

    budget_share = Integer(
        4 * 1024 * 1024,
        min=1,
        help="""Bytes of a person's budget recorded at a time (`browser.budget.reserved`)
        before small reads and kernel outputs are sent. Larger: fewer events; a server that
        stops loses at most this much of each person's day.""",
    ).tag(config=True)

    budget_grace = Integer(
        1024 * 1024,
        min=0,
        help="""Past the daily budget, kernel messages of at most 2 KiB (busy/idle status,
        short replies) still pass, up to this many bytes a day, so notebooks show why their
        outputs stopped instead of hanging.""",
    ).tag(config=True)

    sink = Instance(AuditSink, allow_none=True)
    dataset = Instance(DatasetFolder, allow_none=True)
    copies = Instance(DatasetCopies, allow_none=True)
    budget = Instance(BrowserBudget, allow_none=True)
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

    @default("browser_bytes_day")
    def _default_browser_bytes_day(self):
        value = os.environ.get("HDS_BROWSER_BYTES_DAY", "").strip()
        try:
            return int(value) if value else 0
        except ValueError:
            raise TraitError(f"HDS_BROWSER_BYTES_DAY={value!r}: write a number of bytes") from None

    @default("browser_served")
    def _default_browser_served(self):
        value = os.environ.get("HDS_BROWSER_SERVED", "").strip()
        try:
            return json.loads(value) if value else {}
        except ValueError:
            raise TraitError(f"HDS_BROWSER_SERVED is not JSON: {value[:200]!r}") from None

    @validate("browser_served")
    def _validate_browser_served(self, proposal):
        try:
            Served.parse(proposal.value)
        except ValueError as error:
            raise TraitError(f"DataGuardApp.browser_served: {error}") from None
        return proposal.value

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
        self.copies = DatasetCopies(self.dataset)
        if self.browser_bytes_day:
            self.budget = BrowserBudget(
                self.browser_bytes_day,
                chunk=self.budget_share,
                grace=self.budget_grace,
                served=Served.parse(self.browser_served),
            )
        self._budget_kernel_outputs()
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

    def _budget_kernel_outputs(self) -> None:
        """Kernel messages reach the browser through the budgeted connection, or none does."""
        configured = self.serverapp.kernel_websocket_connection_class
        if not issubclass(BudgetedConnection, configured):
            raise RuntimeError(
                "the data guard counts kernel outputs with its own kernel websocket connection, "
                f"a ZMQChannelsWebsocketConnection; ServerApp.kernel_websocket_connection_class "
                f"is {configured.__module__}.{configured.__qualname__}: remove that setting"
            )
        self.settings["kernel_websocket_connection_class"] = BudgetedConnection

    def initialize_handlers(self):
        self.handlers.extend(handlers.guarded_routes())
        if self.terminals_on:
            self.handlers.append(terminals.route())

    @property
    def terminals_on(self) -> bool:
        """Whether the server offers terminals (their output is then metered too)."""
        serverapp = self.serverapp
        return bool(serverapp.terminals_enabled
                    and serverapp.jpserver_extensions.get(terminals.EXTENSION))  # fmt: skip

    def initialize(self):
        """Register the guard, then check that nothing loaded earlier answers its routes.

        The image sets ServerApp.reraise_server_extension_failures, so this error stops
        the server before it serves anything.
        """
        super().initialize()
        # The terminals' own route may come later: checked once every extension has started.
        wrong = routing.unguarded_routes(self.serverapp.web_app, self.serverapp.base_url)
        if wrong:
            raise RuntimeError(f"data guard cannot start: {'; '.join(wrong)}")

    async def _start_jupyter_server_extension(self, serverapp):
        """Check the routes again once every extension is in, then replay leftover events."""
        wrong = routing.unguarded_routes(serverapp.web_app, serverapp.base_url,
                                         terminals_on=self.terminals_on)  # fmt: skip
        if wrong:
            self.log.critical("data guard: %s; stopping the server rather than serve files",
                              "; ".join(wrong))  # fmt: skip
            serverapp.stop()
            return
        self.sink.start()
        connection = serverapp.web_app.settings.get("kernel_websocket_connection_class")
        if connection is not BudgetedConnection:
            self.log.critical("data guard: kernel websockets use %s, not the budgeted "
                              "connection; stopping the server", connection)  # fmt: skip
            serverapp.stop()
            return
        self.log.info("data guard active: dataset %s/, hub events %s, browser budget %s a day",
                      self.dataset.api_path, self.events_url or "off",
                      self.browser_bytes_day or "no limit")  # fmt: skip

    async def stop_extension(self):
        if self.sink is not None:
            await self.sink.close()
