"""Collaboration tests: subdomain hubs on loopback, people with browser cookies, Y clients.

Subdomains: the hub runs with `c.JupyterHub.subdomain_host = http://hub.localhost:<port>`, so
user servers live at `http://<user>.hub.localhost:<port>/user/<user>/<project>/` (a dotted
hub name: Python's cookie jar treats a bare `localhost` as `localhost.local`). Chromium
resolves `*.localhost` to loopback by itself; for Python clients `loopback_subdomains`
makes this process do the same (no /etc/hosts, nothing outside this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import requests
from jupyter_ydoc import YFile, YNotebook
from pycrdt import (
    Doc,
    YMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from .hub import RealHub

_getaddrinfo = socket.getaddrinfo


def _loopback_getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


@contextlib.contextmanager
def loopback_subdomains() -> Iterator[None]:
    """Resolve `localhost` and `*.localhost` to 127.0.0.1 in this process (RFC 6761)."""
    socket.getaddrinfo = _loopback_getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = _getaddrinfo


def subdomain_hub(state_dir: Path, extra_config: str = "") -> RealHub:
    """A RealHub whose user servers run on `<user>.hub.localhost` subdomains, dummy logins."""
    hub = RealHub(state_dir)
    hub.public = f"http://hub.localhost:{hub.port}"
    hub.extra_config = f"""
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.subdomain_host = "{hub.public}"
{extra_config}
"""
    return hub


def server_origin(hub: RealHub, owner: str) -> str:
    return f"http://{owner}.hub.localhost:{hub.port}"


def server_url(hub: RealHub, owner: str, project: str, path: str = "") -> str:
    return f"{server_origin(hub, owner)}/user/{owner}/{project}/{path}"


class _Forms(HTMLParser):
    """Every form's error/message boxes, for reading the sharing page's answer."""

    def __init__(self, html: str):
        super().__init__()
        self.alerts: dict[str, str] = {}
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs).get("id")
        if found in ("sharing-message", "sharing-error"):
            self._open = found

    def handle_data(self, data):
        if self._open:
            self.alerts[self._open] = self.alerts.get(self._open, "") + data.strip()

    def handle_endtag(self, tag):
        self._open = None


class _Inputs(HTMLParser):
    """The hidden inputs of a page's form (name -> list of values)."""

    def __init__(self, html: str):
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields.setdefault(attrs["name"], []).append(attrs.get("value") or "")


class Person:
    """Someone with a browser's cookie jar: logged in to the hub on its public host."""

    def __init__(self, hub: RealHub, name: str):
        self.hub, self.name = hub, name
        self.session = requests.Session()
        page = self.session.get(f"{hub.public}/hub/login", timeout=30)
        page.raise_for_status()
        response = self.session.post(
            f"{hub.public}/hub/login",
            data={"username": name, "password": "x", "_xsrf": self.xsrf("hub.localhost", "/hub/")},
            timeout=30,
            allow_redirects=False,
        )
        assert response.status_code == 302, f"login as {name}: {response.status_code}"

    def xsrf(self, domain: str, path: str) -> str:
        for cookie in self.session.cookies:
            same_path = cookie.path.rstrip("/") == path.rstrip("/")
            if cookie.name == "_xsrf" and cookie.domain.lstrip(".") == domain and same_path:
                return cookie.value
        return ""

    def sharing(self, action: str, project: str, user: str, owner: str = "") -> tuple[int, str]:
        """Press a button of the hub's sharing page; return the status and what it said."""
        page = self.session.get(f"{self.hub.public}/hub/hds/sharing", timeout=30)
        page.raise_for_status()
        form = {"action": action, "project": project, "user": user, "owner": owner or self.name}
        form["_xsrf"] = self.xsrf("hub.localhost", "/hub/")
        response = self.session.post(f"{self.hub.public}/hub/hds/sharing", data=form, timeout=30)
        alerts = _Forms(response.text).alerts
        return response.status_code, alerts.get("sharing-error") or alerts.get(
            "sharing-message", ""
        )

    def hub_api(self, method: str, path: str, **kwargs) -> requests.Response:
        """The hub's REST API with this person's cookies (as the hub's own pages call it)."""
        headers = {"X-XSRFToken": self.xsrf("hub.localhost", "/hub/"), **kwargs.pop("headers", {})}
        return self.session.request(
            method, f"{self.hub.public}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def open_server(self, owner: str, project: str, consent: bool = True) -> requests.Response:
        """Navigate to `owner`'s server like a browser: OAuth with the hub on the way.

        The hub asks a guest to confirm before letting them into someone else's server;
        `consent` presses its Authorize button.
        """
        response = self.session.get(server_url(self.hub, owner, project, "lab"), timeout=60)
        if consent and response.ok and "/hub/api/oauth2/authorize" in response.url:
            fields = _Inputs(response.text).fields
            response = self.session.post(response.url, data=fields, timeout=60)
        return response

    def server_api(self, owner, project, method, path, **kwargs) -> requests.Response:
        """The server's REST API with cookies, as JupyterLab calls it (with its XSRF token)."""
        headers = {
            "X-XSRFToken": self.xsrf(f"{owner}.hub.localhost", f"/user/{owner}/{project}/"),
            **kwargs.pop("headers", {}),
        }
        url = server_url(self.hub, owner, project, f"api/{path}")
        return self.session.request(
            method, url, headers=headers, timeout=30, allow_redirects=False, **kwargs
        )

    def cookie_header(self, url: str) -> str:
        prepared = requests.Request("GET", url).prepare()
        return requests.cookies.get_cookie_header(self.session.cookies, prepared) or ""


async def wait_for(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll `condition` until true; return the seconds it took, or fail saying `what`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class NotebookClient:
    """One collaborator's view of a notebook over jupyter-collaboration's Y websocket."""

    def __init__(self, connection: WebSocketClientConnection, file_type: str = "notebook"):
        self.connection = connection
        self.doc = Doc()
        self.notebook = YNotebook(self.doc) if file_type == "notebook" else YFile(self.doc)
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self.synced = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())
        self.doc.observe(self._send_update)
        connection.write_message(create_sync_message(self.doc), binary=True)

    @classmethod
    async def open(
        cls,
        person: Person,
        owner: str,
        project: str,
        path: str,
        origin: str | None = None,
        file_format: str = "json",
        file_type: str = "notebook",
    ) -> NotebookClient:
        """Join the room of `path` (a notebook by default; `file_format="text"`,
        `file_type="file"` for a text file) the way JupyterLab does."""
        url = room_url(person, owner, project, path, file_format, file_type)
        connection = await connect(person, url, origin or server_origin(person.hub, owner))
        client = cls(connection, file_type)
        await asyncio.wait_for(client.synced.wait(), 30)
        return client

    def _send_update(self, event) -> None:
        if self.close_code is None and not self.closed.is_set():
            self.connection.write_message(create_update_message(event.update), binary=True)

    async def _read(self) -> None:
        while True:
            message = await self.connection.read_message()
            if message is None:
                self.close_code = self.connection.close_code
                self.closed.set()
                return
            if isinstance(message, bytes) and message[0] == YMessageType.SYNC:
                reply = handle_sync_message(message[1:], self.doc)
                if reply is not None:
                    self.connection.write_message(reply, binary=True)
                if message[1] == 1:  # SYNC_STEP2: the server sent its whole document
                    self.synced.set()

    def text(self) -> str:
        """A text file's content."""
        return self.notebook.source

    def source(self, index: int) -> str:
        return str(self.notebook.ycells[index]["source"])

    def type_into(self, index: int, text: str) -> None:
        source = self.notebook.ycells[index]["source"]
        source.insert(len(source), text)

    def close(self) -> None:
        self._reader.cancel()
        self.connection.close()


def room_url(person: Person, owner, project, path, file_format: str, file_type: str) -> str:
    """Ask `owner`'s server for the document session of `path`; return its room's ws:// URL."""
    session = person.server_api(
        owner, project, "PUT", f"collaboration/session/{path}",
        data=json.dumps({"format": file_format, "type": file_type}),
    )  # fmt: skip
    assert session.status_code in (200, 201), session.text
    room = session.json()
    return server_url(
        person.hub, owner, project,
        f"api/collaboration/room/{file_format}:{file_type}:{room['fileId']}"
        f"?sessionId={room['sessionId']}",
    ).replace("http://", "ws://")  # fmt: skip


async def connect(person: Person, url: str, origin: str) -> WebSocketClientConnection:
    """Open a websocket with `person`'s cookies, from a page of `origin`."""
    http_url = url.replace("ws://", "http://")
    headers = {"Cookie": person.cookie_header(http_url), "Origin": origin}
    return await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=30))
