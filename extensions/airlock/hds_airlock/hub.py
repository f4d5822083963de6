"""The hub's airlock endpoint as this server reaches it: with its own token, answers passed on.

Contract (the hub side implements it): POST `{...request, "project"}` to
`$JUPYTERHUB_API_URL/hds/airlock/requests` answers 201 `{"id", "status", ...}` or 4xx
`{"message"}`; GET `...?project=<name>` answers `{"requests": [...]}`. Nothing is queued:
when the hub cannot be reached the researcher is told so and tries again later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

UNREACHABLE = (
    "The hub cannot be reached right now, so nothing was sent and nothing was recorded. "
    "Try again in a few minutes; if it keeps failing, tell the hosting team."
)
NOT_CONNECTED = (
    "This server is not connected to a hub (JUPYTERHUB_API_URL is not set), so releases "
    "cannot be requested from it. Open the project from the hub's home page."
)


@dataclass(frozen=True)
class HubAnswer:
    """What to answer the browser: a status and a JSON object."""

    status: int
    body: dict[str, Any]


class HubAirlock:
    """Sends release requests to the hub and reads this person's requests back."""

    def __init__(self, url: str, token: str, project: str, *, timeout: float = 30.0):
        self.url = url
        self.token = token
        self.project = project
        self.timeout = timeout

    async def submit(self, request: dict[str, Any]) -> HubAnswer:
        body = json.dumps({**request, "project": self.project})
        return await self._fetch("POST", self.url, body)

    async def list(self) -> HubAnswer:
        return await self._fetch("GET", f"{self.url}?{urlencode({'project': self.project})}")

    async def _fetch(self, method: str, url: str, body: str | None = None) -> HubAnswer:
        if not self.url:
            return HubAnswer(503, {"message": NOT_CONNECTED})
        request = HTTPRequest(
            url,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            body=body,
            request_timeout=self.timeout,
            connect_timeout=self.timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (HTTPClientError, OSError, TimeoutError):  # refused, reset, timed out (599)
            return HubAnswer(503, {"message": UNREACHABLE})
        return _answer(response.code, response.body)


def _answer(status: int, raw: bytes) -> HubAnswer:
    """The hub's answer as the browser gets it: 2xx and 4xx unchanged, anything else a 502."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if 200 <= status < 300 and isinstance(body, dict):
        return HubAnswer(status, body)
    message = body.get("message") if isinstance(body, dict) else None
    if 400 <= status < 500:
        if isinstance(message, str) and message:
            return HubAnswer(status, body)  # type: ignore[arg-type]
        return HubAnswer(status, {"message": f"The hub refused the request (HTTP {status}) "
                                             "without saying why."})  # fmt: skip
    detail = f": {message}" if isinstance(message, str) and message else ""
    return HubAnswer(502, {"message": f"The hub could not handle the request (HTTP {status}"
                                      f"{detail}). Try again in a few minutes; if it keeps "
                                      "failing, tell the hosting team."})  # fmt: skip
