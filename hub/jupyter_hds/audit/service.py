"""The audit service: the record's one writer, its verifier, and the auditors' page (a hub service).

Run by the hub (c.JupyterHub.services, see `audit.config`); the record is the state
folder's `audit/` (`Deployment.audit`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import ioloop, web
from traitlets import Bool, Float, Integer

from ..services import HubService
from .drain import Drainer
from .inbox import Inbox
from .intake import new_event
from .pages import AuditExport, AuditPage, ReportExport, ReportPage, Stylesheet
from .query import AuditQuery
from .report import AccessReport
from .verify import Report, Verifier
from .writer import ChainWriter, WriterBusy

PORT = 8082


class AuditService(HubService):
    """Chains the inbox into the record, keeps its verification current, serves the audit page."""

    name = "hds-audit"
    description = __doc__

    segment_entries = Integer(
        50_000, help="Entries per segment; a full segment is sealed into Parquet."
    ).tag(config=True)
    drain_interval = Float(1.0, help="Seconds between two looks at the inbox.").tag(config=True)
    verify_interval = Float(
        60.0, help="Seconds between two verifications of the chain (changed segments only)."
    ).tag(config=True)
    fsync = Bool(True, help="fsync the record after every batch (leave on in production).").tag(
        config=True
    )
    page_size = Integer(50, help="Entries per page of the audit page.").tag(config=True)
    report_rows = Integer(
        1000, help="Rows the access report's page shows per list (the CSV has them all)."
    ).tag(config=True)

    def initialize(self, argv=None):
        super().initialize(argv)
        self.directory = self.deployment.audit
        self.writer = ChainWriter(self.directory, self.segment_entries, self.fsync)
        self.inbox = Inbox(self.directory)
        self.query = AuditQuery(self.directory)
        self.report_rules = AccessReport(parent=self)
        self.verifier = Verifier(self.directory)
        self.status: dict[str, Any] = {"report": None, "checked_at": None, "checked": 0.0}
        self._threads = ThreadPoolExecutor(2, thread_name_prefix="audit")
        self._choices: tuple[float, dict[str, list[str]]] = (0.0, {})
        self._sealing: Future | None = None
        self._verifying = False

    # -- writing ---------------------------------------------------------------------------

    def record(self, event: dict[str, Any]) -> None:
        """The service's own events go through the inbox too, so all arrive in time order."""
        self.inbox.put([event], source="audit")
        self.drain()

    def drain(self) -> None:
        try:
            Drainer(self.inbox, self.writer).drain()
        except Exception:
            self.log.exception("audit: draining the inbox failed; will retry")
        if self.writer.to_seal and (self._sealing is None or self._sealing.done()):
            self._sealing = self._threads.submit(self.writer.seal_pending)

    # -- verifying -------------------------------------------------------------------------

    async def verify(self) -> None:
        if self._verifying:
            return  # the previous verification is still running (a first one on a large record)
        self._verifying = True
        try:
            loop = asyncio.get_running_loop()
            report = await loop.run_in_executor(self._threads, self._verify_retrying)
        finally:
            self._verifying = False
        if self.status["report"] is None or self.status["report"].intact != report.intact:
            self.log.log(20 if report.intact else 40, "audit: %s", " / ".join(report.lines(3)))
        self.status = {
            "report": report,
            "checked_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "checked": time.monotonic(),
        }

    async def fresh_status(self, max_age: float = 10.0) -> dict[str, Any]:
        """The verification status, re-checked first if entries were written since, or if it
        is older than `max_age` seconds.

        Re-checking is cheap once the first full verification is done: sealed segments are
        re-read only if their file changed. While the first one runs, the page says so.
        """
        report = self.status["report"]
        old = time.monotonic() - self.status["checked"] > max_age
        behind = report is not None and (report.head_seq or 0) < self.writer.head_seq
        if report is not None and not self._verifying and (old or behind):
            await self.verify()
        return self.status

    def _verify_retrying(self) -> Report:
        for _ in range(3):
            try:
                return self.verifier.verify()
            except FileNotFoundError:
                continue  # a segment was sealed while being read
        return self.verifier.verify()

    def choices(self) -> dict[str, list[str]]:
        """Suggestions for the filter form, refreshed at most once a minute."""
        fetched, values = self._choices
        if time.monotonic() - fetched > 60:
            values = self.query.choices()
            self._choices = (time.monotonic(), values)
        return values

    # -- serving ---------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        prefix = self.service_prefix
        # Who may read is asked of the hub again after a minute, so a withdrawn role bites soon.
        HubOAuth.instance(cache_max_age=60)
        return web.Application(
            [
                (prefix, AuditPage),
                (url_path_join(prefix, "export.csv"), AuditExport),
                (url_path_join(prefix, "report"), ReportPage),
                (url_path_join(prefix, "report.csv"), ReportExport),
                (url_path_join(prefix, "style.css"), Stylesheet),
                (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            ],
            cookie_secret=secrets.token_bytes(32),
            audit_service=self,
            prefix=prefix,
            hub_prefix=self.hub_prefix,
            xsrf_cookies=False,
        )

    def start(self):
        try:
            self.writer.open()
        except WriterBusy as error:
            self.log.error("%s", error)
            sys.exit(1)
        self.record(
            new_event(
                "audit.start",
                "service:audit",
                "service",
                "succeeded",
                reported_by="audit",
                details={"pid": os.getpid(), "head_seq": self.writer.head_seq},
            )
        )  # record() drains: what waited in the inbox is chained with it
        host, port = self.listen_address
        self.web_app().listen(port, host)
        self.log.info("audit page on %s:%s, record in %s", host, port, self.directory)
        ioloop.PeriodicCallback(self.drain, self.drain_interval * 1000).start()
        ioloop.PeriodicCallback(self.verify, self.verify_interval * 1000).start()
        ioloop.IOLoop.current().add_callback(self.verify)
        super().start()

    def stop(self):
        """Finish the current drain and close the record (the hub stops its services)."""
        self.drain()
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.writer.close()


main = AuditService.launch_instance

if __name__ == "__main__":
    main()
