"""The audit page: read-only, behind the hub login, for holders of the `custom:audit:read` scope."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from tornado import web

from ..events import OUTCOMES
from ..service_page import ServicePage
from .entry import FIELDS
from .intake import new_event
from .query import Filters, csv_cell
from .report import CSV_HEADER, RULES, Month, build, csv_rows, duration, parse_request

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

    def record(
        self, action: str, outcome: str, *, project: str | None = None,
        target: str | None = None, **details,
    ) -> None:  # fmt: skip
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
                project=project,
                target=target,
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


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


TEMPLATES.filters["when"] = _when
TEMPLATES.filters["duration"] = duration


class ReportHandler(AuditHandler):
    """The access report of one project's month: asked for, recorded, then computed."""

    def asked(self) -> tuple[str, Month] | None:
        """The project and month asked for; None when no project is chosen yet."""
        if not self.get_argument("project", "").strip():
            return None
        try:
            return parse_request(self.get_argument("project"), self.get_argument("month", ""))
        except ValueError as error:
            raise web.HTTPError(400, "%s", str(error)) from None

    async def generate(self, project: str, month: Month, form: str):
        """Record the report's generation, then build it (the record is drained first)."""
        rules = self.service.report_rules
        self.record("audit.access-report", "allowed", project=project, target=str(month),
                    month=str(month), format=form, time_zone=rules.time_zone)  # fmt: skip
        return await self.in_thread(build, self.service.query, project, month, rules)


class ReportPage(ReportHandler):
    """The report as a page, with a project and month chooser; anomalies first."""

    @web.authenticated
    async def get(self):
        asked = self.asked()
        rules = self.service.report_rules
        month = asked[1] if asked else Month.of(datetime.now(rules.zone))
        report = await self.generate(asked[0], month, "page") if asked else None
        choices = await self.in_thread(self.service.choices)
        self.finish(
            TEMPLATES.get_template("report.html").render(
                user=self.current_user["name"],
                prefix=self.prefix,
                hub_prefix=self.settings["hub_prefix"],
                project=asked[0] if asked else "",
                month=month,
                report=report,
                projects=choices.get("project", []),
                rules=RULES,
                explained=rules.explain(),
                shown=self.service.report_rows,
            )
        )


class ReportExport(ReportHandler):
    """The report as CSV (one row per person, file, refusal, release, session and anomaly)."""

    @web.authenticated
    async def get(self):
        asked = self.asked()
        if asked is None:
            raise web.HTTPError(400, "choose a project: report.csv?project=P&month=YYYY-MM")
        report = await self.generate(*asked, "csv")
        name = re.sub(r"[^\w.-]", "_", report.project)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="access-report-{name}-{report.month}.csv"',
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        writer.writerows([csv_cell(v) for v in row] for row in csv_rows(report))
        self.finish(out.getvalue())


class Stylesheet(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/css")
        self.set_header("Cache-Control", "max-age=3600")
        self.finish((Path(__file__).parent / "templates" / "audit.css").read_text())
