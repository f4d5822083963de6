"""`/api/hds/airlock/requests`: the researcher's release requests, checked here, sent to the hub."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .files import check_files
from .request import RequestRefused, parse

if TYPE_CHECKING:
    from .app import AirlockApp

SETTINGS_KEY = "hds_airlock"


class ReleaseRequestsHandler(APIHandler):
    """POST: check a request and forward it to the hub. GET: this person's requests."""

    auth_resource = "contents"

    @property
    def airlock(self) -> AirlockApp:
        return self.settings[SETTINGS_KEY]

    @web.authenticated
    @authorized
    async def post(self) -> None:
        airlock = self.airlock
        try:
            self._check_owner()
            draft = parse(self._body(), max_files=airlock.max_files)
            files = await asyncio.to_thread(
                check_files, draft, airlock.folders(), airlock.max_request_bytes
            )
        except RequestRefused as refusal:
            self.log.info("airlock: request refused here: %s", refusal.message)
            self._answer(refusal.status, {"message": refusal.message})
            return
        request = {**asdict(draft), "files": [asdict(f) for f in files]}
        answer = await airlock.hub.submit(request)
        self.log.info("airlock: request of %d file(s) sent to the hub, answered %d",
                      len(files), answer.status)  # fmt: skip
        self._answer(answer.status, answer.body)

    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            self._check_owner()
        except RequestRefused as refusal:
            self._answer(refusal.status, {"message": refusal.message})
            return
        answer = await self.airlock.hub.list()
        self._answer(answer.status, answer.body)

    def _check_owner(self) -> None:
        """Only the server's owner: the hub files requests under the owner of this server."""
        owner = self.airlock.owner
        if owner and self.current_user.username != owner:
            raise RequestRefused(f"Only {owner}, whose server this is, can request releases "
                                 "from it. Open your own server for this project from the "
                                 "hub's home page to request one.", status=403)  # fmt: skip

    def _body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            raise RequestRefused("The request body must be JSON.") from None

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))
