"""A small real HTTP server speaking the hub's audit-events contract, for the data guard's tests.

It listens on a free port in the test's event loop, checks the token, records what it
accepts (deduplicated by id, like the hub) and can be told to fail or go away.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

PATH = "/hub/api/hds/audit/events"


class _EventsHandler(RequestHandler):
    def initialize(self, endpoint: AuditEndpoint) -> None:
        self.endpoint = endpoint

    def post(self) -> None:
        endpoint = self.endpoint
        endpoint.requests.append(
            {"authorization": self.request.headers.get("Authorization"), "body": self.request.body}
        )
        if endpoint.fail_with:
            self.set_status(endpoint.fail_with)
            self.finish({"message": f"failing on purpose with {endpoint.fail_with}"})
            return
        if self.request.headers.get("Authorization") != f"token {endpoint.token}":
            self.set_status(401)
            self.finish({"message": "bad token"})
            return
        events = json.loads(self.request.body)["events"]
        accepted = []
        for event in events:
            if event["id"] in endpoint.refuse_ids:
                continue
            if event["id"] not in endpoint.seen:
                endpoint.seen.add(event["id"])
                endpoint.events.append(event)
            accepted.append(event["id"])
        self.finish({"accepted": accepted})


class AuditEndpoint:
    """`POST /hub/api/hds/audit/events` on 127.0.0.1:<free port>."""

    def __init__(self, token: str = "server-token"):  # noqa: S107 (a test token)
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.fail_with = 0
        self.refuse_ids: set[str] = set()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self._server: HTTPServer | None = None

    def start(self) -> AuditEndpoint:
        """Listen (call inside the running event loop)."""
        app = Application([(PATH, _EventsHandler, {"endpoint": self})])
        self._server = HTTPServer(app)
        self._server.listen(self.port, "127.0.0.1")
        return self

    def stop(self) -> None:
        """Stop listening: clients now get 'connection refused', as when the hub is down."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def actions(self) -> list[tuple[str, str | None, str]]:
        return [(e["action"], e["target"], e["outcome"]) for e in self.events]
