"""The audit page: read-only, behind the hub login, for holders of the `custom:audit:read` scope."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from tornado import web

from ..events import OUTCOMES
from ..service_page import ServicePage
from .entry import FIELDS
from .intake import new_event
from .query import Filters, csv_cell

READ_SCOPE = "custom:audit:read"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)


class AuditHandler(ServicePage):
    """Common ground: the hub's OAuth login, the auditor scope, strict headers, clear errors."""

    read_scope = READ_SCOPE
    forbidden_message = "The audit page is for auditors: ask the hosting team for the auditor role."
    error_template = TEMPLATES.get_template("error.html")

    @property
    def service(self):
        return self.settings["audit_service"]

    def filters(self) -> Filters:
        try:
            return Filters.parse(lambda name: self.get_argument(name, None))
        except ValueError as error:
            raise web.HTTPError(400, "%s", str(error)) from None

    def seq_argument(self, name: str) -> int | None:
        value = self.get_argument(name, None)
        if value is None or value == "":
            return None
        if not value.isdigit():
            raise web.HTTPError(400, "%s", f"{name} must be an entry number")
        return int(value)

    async def in_thread(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    def record(self, action: str, outcome: str, **details) -> None:
        """Record what the auditor does here (the service drains the inbox with it)."""
        user = self.current_user
        self.service.record(
            new_event(
                action,
                user["name"],
                "admin" if user.get("admin") else "user",
                outcome,
                reported_by="audit",
                source=self.service.client_address(self.request),
                details=details,
            )
        )


class AuditPage(AuditHandler):
    """The record, newest first, filtered; each view is itself recorded, before it is shown."""

    @web.authenticated
    async def get(self):
        filters = self.filters()
        before, after = self.seq_argument("before"), self.seq_argument("after")
        # Recording drains the inbox: what waits there is shown too.
        self.record("audit.view", "allowed", filters=filters.as_args(), before=before, after=after)
        query = self.service.query
        page = await self.in_thread(query.page, filters, before, after, self.service.page_size)
        total = await self.in_thread(query.count, filters)
        choices = await self.in_thread(self.service.choices)
        self.finish(
            TEMPLATES.get_template("audit.html").render(
                user=self.current_user["name"],
                prefix=self.prefix,
                hub_prefix=self.settings["hub_prefix"],
                filters=filters,
                args=filters.as_args(),
                page=page,
                total=total,
                choices=choices,
                status=await self.service.fresh_status(),
                inbox_pending=self.service.inbox.pending(),
                outcomes=OUTCOMES,
            )
        )


class AuditExport(AuditHandler):
    """All matching entries as CSV, streamed. The export goes into the record before its
    first row, with the filters and how many entries match, so a dropped connection or an
    export stopped half-way leaves its trace too."""

    @web.authenticated
    async def get(self):
        filters = self.filters()
        self.service.drain()  # the export includes what waits in the inbox
        matching = await self.in_thread(self.service.query.count, filters)
        self.record("audit.export", "allowed", filters=filters.as_args(), rows=matching)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="audit-{stamp}.csv"')
        batches = self.service.query.export(filters)
        self.write(self._csv([FIELDS]))
        while batch := await self.in_thread(next, batches, None):
            self.write(self._csv(batch))
            await self.flush()
        self.finish()

    @staticmethod
    def _csv(rows) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerows([csv_cell(v) for v in row] for row in rows)
        return out.getvalue()


class Stylesheet(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/css")
        self.set_header("Cache-Control", "max-age=3600")
        self.finish((Path(__file__).parent / "templates" / "audit.css").read_text())
