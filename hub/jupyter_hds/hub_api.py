"""A small client for the hub's REST API, for the `hds` command and the hub services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import requests

PAGINATED = "application/jupyterhub-pagination+json"


class HubAPIError(RuntimeError):
    """The hub refused or failed a request; the message says which and why."""


class HubAPI:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30):
        self.url = (url or os.environ.get("JUPYTERHUB_API_URL", "")).rstrip("/")
        self.token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not self.url or not self.token:
            raise HubAPIError(
                "set JUPYTERHUB_API_URL (e.g. http://127.0.0.1:8081/hub/api) and "
                "JUPYTERHUB_API_TOKEN (a token with admin:groups, admin:users, admin:servers)"
            )
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {self.token}"

    def request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs) -> Any:
        try:
            response = self.session.request(
                method, f"{self.url}{path}", timeout=self.timeout, **kwargs
            )
        except requests.RequestException as error:
            raise HubAPIError(f"the hub at {self.url} did not answer: {error}") from error
        if response.status_code not in ok:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise HubAPIError(f"{method} {path}: {response.status_code} {message}".strip())
        return response.json() if response.content else None

    def paginate(self, path: str, **params) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self.request(
                "GET", path, params={**params, "offset": offset}, headers={"Accept": PAGINATED}
            )
            yield from page["items"]
            following = page["_pagination"].get("next")
            if not following:
                return
            offset = following["offset"]

    def groups(self) -> dict[str, dict[str, Any]]:
        return {group["name"]: group for group in self.paginate("/groups")}

    def active_servers(self) -> Iterator[tuple[str, str]]:
        """(user, server name) for every server that is running or starting."""
        for user in self.paginate("/users", state="active"):
            for name in user.get("servers") or {}:
                yield user["name"], name
