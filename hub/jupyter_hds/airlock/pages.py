"""The airlock's pages on the hub: the review queue, a request with its files, releases.

    GET  /hub/hds/airlock                          the queue (checkers), one's own requests
    GET  /hub/hds/airlock/requests/<id>            a request: files, checks, votes, the form
    POST /hub/hds/airlock/requests/<id>            a checker's decision (xsrf-protected form)
    GET  /hub/hds/airlock/requests/<id>/files/<n>  checkers: a frozen image or PDF, inline
    GET  /hub/hds/airlock/requests/<id>/download/<n>   the released bytes (recorded)

Server-rendered with the hub's stylesheet; a strict Content-Security-Policy (no script at
all). Frozen files are shown from the release area, escaped; nothing of them runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyterhub.handlers.base import BaseHandler
from tornado import web

from ..audit.hub import client_address
from ..policy.airlock import OPEN_FOR_REVIEW, RELEASED, shown_status
from ..policy.refusal import Refused
from .desk import now, review_of
from .handlers import REQUEST_ID, AirlockMixin
from .preview import preview

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Frozen files shown inline (images, PDFs): nothing they hold may run or load anything.
FILE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
}


class AirlockPageMixin(AirlockMixin):
    """Strict headers on every airlock page and file."""

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def get_content_type(self):
        return "text/html; charset=UTF-8"

    def may_see(self, record: dict[str, Any]) -> bool:
        """The requester, and the project's members when the release was shared with them."""
        name = self.current_user.name
        if name == record["requester"]:
            return True
        return record["share_with_project"] and record["project"] in self.groups_of(name)


class AirlockPage(AirlockPageMixin, BaseHandler):
    """The queue for checkers; everyone's own requests and the releases shared with them."""

    @web.authenticated
    async def get(self):
        me = self.current_user.name
        records = self.desk.store.all()
        desk = self.desk
        mine = [desk.requester_view(r) for r in records if r["requester"] == me]
        groups = self.groups_of(me)
        shared = [
            desk.requester_view(r)
            for r in records
            if r["requester"] != me and r["share_with_project"] and r["project"] in groups
            and r["status"] == RELEASED
        ]  # fmt: skip
        queue, decided = [], []
        if self.is_checker():
            views = [desk.checker_view(r, me) for r in records]
            queue = [v for v in views if v["status"] in OPEN_FOR_REVIEW]
            decided = [v for v in views if v["status"] not in OPEN_FOR_REVIEW][:50]
        html = await self.render_template(
            "airlock.html", checker=self.is_checker(), queue=queue, decided=decided, mine=mine,
            shared=shared,
        )  # fmt: skip
        self.finish(html)


class RequestPage(AirlockPageMixin, BaseHandler):
    """One request: for checkers, everything they need to decide; for the requester, its state."""

    @web.authenticated
    async def get(self, request_id: str):
        await self._render(request_id)

    @web.authenticated
    async def post(self, request_id: str):
        decision = self.get_body_argument("decision", "")
        comment = self.get_body_argument("comment", "")
        try:
            record = self.decide(request_id, decision, comment)
        except Refused as refused:
            self.set_status(refused.status)
            return await self._render(request_id, error=str(refused))
        message = f"Your vote is recorded. The request is now {record['status']}."
        await self._render(request_id, message=message)

    async def _render(self, request_id: str, message: str = "", error: str = ""):
        record = self.record(request_id)
        me = self.current_user.name
        if self.is_checker():
            view = self.desk.checker_view(record, me)
            files = await asyncio.to_thread(self._previews, record)
        elif self.may_see(record):
            view, files = self.desk.requester_view(record), []
        else:
            raise web.HTTPError(404, f"There is no request {request_id} of yours.")
        html = await self.render_template(
            "airlock-request.html", request=view, files=files, checker=self.is_checker(),
            can_vote=self._can_vote(record), message=message, error=error,
            downloadable=self._downloadable(record),
        )  # fmt: skip
        self.finish(html)

    def _previews(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        rules = record["rules"]
        if record.get("purged"):  # the frozen copies are gone (hds airlock purge)
            return []
        shown = []
        for entry in record["files"]:
            blob = self.desk.store.blob(record["id"], entry["number"])
            shown.append({
                "number": entry["number"],
                "inline": Path(entry["path"]).suffix.lower() in INLINE_TYPES,
                "preview": preview(blob, entry["path"], entry["check"], rules["threshold"],
                                   rules["rounding"]),
            })  # fmt: skip
        return shown

    def _can_vote(self, record: dict[str, Any]) -> str:
        """'' when the current person may vote now, else why not (shown instead of the form)."""
        me = self.current_user.name
        if not self.is_checker():
            return "Only output checkers vote."
        if record["status"] not in OPEN_FOR_REVIEW:
            return f"This request is {record['status']}: it takes no more votes."
        if me == record["requester"]:
            return "You asked for this release: another output checker reviews it."
        if any(v["checker"] == me for v in record["votes"]):
            return "You have voted. The other votes are shown once all are in."
        if record["project"] in self.groups_of(me) and not self.desk.settings.members_may_review:
            return f"You are a member of {record['project']}: a checker from outside reviews it."
        return ""

    def _downloadable(self, record: dict[str, Any]) -> bool:
        review = review_of(record)
        return shown_status(review, now()) == RELEASED and self.may_see(record)


class FrozenFile(AirlockPageMixin, BaseHandler):
    """A frozen image or PDF for checkers to look at in the page (not a release)."""

    @web.authenticated
    async def get(self, request_id: str, number: str):
        self.checker()
        record = self.record(request_id)
        entry = next((f for f in record["files"] if str(f["number"]) == number), None)
        kind = INLINE_TYPES.get(Path(entry["path"]).suffix.lower()) if entry else None
        if kind is None:
            raise web.HTTPError(404, "No such image or PDF in this request.")
        if record.get("purged"):
            raise web.HTTPError(410, f"The frozen copies of {request_id} were deleted on "
                                f"{record['purged'][:10]}.")  # fmt: skip
        data = self.desk.store.blob(request_id, int(number)).read_bytes()
        self.set_header("Content-Type", kind)
        self.set_header("Content-Security-Policy", FILE_CSP)
        self.set_header("Content-Disposition", "inline")
        self.finish(data)


class ReleaseDownload(AirlockPageMixin, BaseHandler):
    """The approved bytes of a released file, as an attachment; every download recorded."""

    @web.authenticated
    async def get(self, request_id: str, number: str):
        me = self.current_user.name
        try:
            source = client_address(self.request)
            download = self.desk.download(
                me, request_id, int(number), self.project_facts, source_ip=source
            )
        except Refused as refused:
            raise web.HTTPError(refused.status, str(refused)) from None
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Security-Policy", FILE_CSP)
        self.set_header("Content-Disposition", _attachment(download.name))
        self.set_header("Digest", f"sha-256={download.sha256}")
        self.finish(download.data)


def _attachment(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                         for c in name)  # fmt: skip
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


PAGE_HANDLERS = [
    (r"/hds/airlock", AirlockPage),
    (rf"/hds/airlock/requests/({REQUEST_ID})", RequestPage),
    (rf"/hds/airlock/requests/({REQUEST_ID})/files/(\d+)", FrozenFile),
    (rf"/hds/airlock/requests/({REQUEST_ID})/download/(\d+)", ReleaseDownload),
]
