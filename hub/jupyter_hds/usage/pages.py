"""The usage page: monthly summary per project for the hosting team, behind the hub login."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from tornado import web

from hds_quota.ledger import utcnow
from hds_quota.usage import Month, ProjectMonth, Session, Usage, gib, to_csv

from ..service_page import ServicePage

READ_SCOPE = "custom:usage:read"
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)
TEMPLATES.filters["gib"] = gib


class UsageHandler(ServicePage):
    """The hub's OAuth login, the usage scope, strict headers, errors people can read."""

    read_scope = READ_SCOPE
    forbidden_message = "Usage figures are for the hosting team (the hds-admins group)."
    error_template = TEMPLATES.get_template("usage_error.html")

    @property
    def usage(self) -> Usage:
        return self.settings["usage"]

    def month(self) -> Month:
        text = self.get_argument("month", "")
        try:
            return Month.parse(text) if text else Month.of(utcnow())
        except ValueError as error:
            raise web.HTTPError(400, "%s", str(error)) from None

    async def in_thread(self, function, *args) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    def send_csv(self, name: str, text: str) -> None:
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(text)


class SummaryPage(UsageHandler):
    @web.authenticated
    async def get(self):
        month = self.month()
        rows: list[ProjectMonth] = await self.in_thread(self.usage.summary, month)
        page = TEMPLATES.get_template("usage.html")
        self.finish(
            page.render(
                month=month,
                previous=month.previous,
                following=month.following,
                rows=rows,
                total=sum(row.amount_due_eur for row in rows),
                prefix=self.prefix,
                hub_prefix=self.settings["hub_prefix"],
                user=self.current_user["name"],
            )
        )


class SummaryCSV(UsageHandler):
    @web.authenticated
    async def get(self):
        month = self.month()
        rows = await self.in_thread(self.usage.summary, month)
        self.send_csv(f"usage-{month}.csv", to_csv(rows, ProjectMonth))


class SessionsCSV(UsageHandler):
    @web.authenticated
    async def get(self):
        month, project = self.month(), self.get_argument("project", None) or None
        rows = await self.in_thread(self.usage.sessions, month, project)
        name = f"sessions-{month}{'-' + project if project else ''}.csv"
        self.send_csv(name, to_csv(rows, Session))


class Stylesheet(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/css")
        self.set_header("Cache-Control", "max-age=3600")
        self.finish((Path(__file__).parent / "templates" / "usage.css").read_text())
