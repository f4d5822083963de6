"""A researcher at work through the proxy, for restart tests: a browser session on their server,
a kernel running a loop over its websocket, and a steady stream of requests, all timed."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
import websocket

from .hub import RealHub, browser_login

# Runs in the member's kernel until interrupted: a line per beat in ~/work, a print per beat.
LOOP = """
import itertools, os, time
with open("/home/jovyan/work/heartbeat", "a", buffering=1) as beat:
    for n in itertools.count():
        beat.write(f"{n} {time.time():.3f} {os.getpid()}\\n")
        print(n, flush=True)
        time.sleep(0.25)
"""


@dataclass
class Outcome:
    """One request of the member's: when it was sent, how long it took, its status (0: none)."""

    at: float
    seconds: float
    status: int


@dataclass
class Member:
    """`user` working in their server `project` on `hub`, through the hub's public proxy."""

    hub: RealHub
    user: str
    project: str
    session: requests.Session = field(init=False)
    outcomes: list[Outcome] = field(default_factory=list)
    outputs: list[float] = field(default_factory=list)  # when the kernel's prints arrived
    kernel: str = ""

    def __post_init__(self):
        self.session = browser_login(self.hub, self.user)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def base(self) -> str:
        return f"{self.hub.url}/user/{self.user}/{self.project}"

    def open_server(self) -> None:
        """Go to the server like a browser: the OAuth round trip gives its cookie."""
        page = self.session.get(f"{self.base}/lab", timeout=60)
        assert page.status_code == 200, (page.status_code, page.url)
        response = self.api("GET", "status")
        assert response.status_code == 200, (response.status_code, response.url)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        xsrf = self.session.cookies.get("_xsrf", path=f"/user/{self.user}/{self.project}/")
        headers = {"X-XSRFToken": xsrf or "", **kwargs.pop("headers", {})}
        return self.session.request(
            method, f"{self.base}/api/{path}", headers=headers, timeout=30, **kwargs
        )

    def run_loop(self) -> None:
        """Start a kernel and run LOOP in it; its prints are read on the open websocket."""
        response = self.api("POST", "kernels", json={"name": "python3"})
        assert response.status_code == 201, response.text
        self.kernel = response.json()["id"]
        url = f"{self.base}/api/kernels/{self.kernel}/channels".replace("http://", "ws://")
        cookie = requests.cookies.get_cookie_header(
            self.session.cookies, requests.Request("GET", f"{self.base}/api/").prepare()
        )
        self.socket = websocket.create_connection(
            url, header=[f"Cookie: {cookie}"], origin=self.hub.url, timeout=60
        )
        session = uuid.uuid4().hex
        self.socket.send(json.dumps(execute_request(LOOP, session, self.user)))
        self._start(self._read_outputs)

    def _read_outputs(self) -> None:
        self.socket.settimeout(1)
        while not self._stop.is_set():
            try:
                message = json.loads(self.socket.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):
                return
            if message.get("msg_type") == "stream":
                self.outputs.append(time.monotonic())

    def keep_working(self, every: float = 0.25) -> None:
        """Read the server's contents API every `every` seconds, as JupyterLab's polls do."""

        def work():
            while not self._stop.is_set():
                start = time.monotonic()
                try:
                    status = self.api("GET", "contents/work?content=1").status_code
                except requests.RequestException:
                    status = 0
                self.outcomes.append(Outcome(start, time.monotonic() - start, status))
                self._stop.wait(every)

        self._start(work)

    def _start(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def failures(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.at <= end and o.status != 200]

    def longest_silence(self, start: float, end: float) -> float:
        """The longest time between two kernel outputs within [start, end]."""
        times = [start] + [t for t in self.outputs if start <= t <= end] + [end]
        return max(b - a for a, b in itertools.pairwise(times))

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        if getattr(self, "socket", None):
            self.socket.close()


def execute_request(code: str, session: str, user: str) -> dict:
    """A Jupyter messaging protocol execute_request, as the websocket's JSON carries it."""
    return {
        "header": {"msg_id": uuid.uuid4().hex, "username": user, "session": session,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }  # fmt: skip


def heartbeat(hub: RealHub, project: str, member: str) -> list[tuple[int, float, int]]:
    """The LOOP's lines (beat, time, kernel pid), read on the host from the member's space."""
    path = Path(hub.state_dir, "projects", project, "users", member, "heartbeat")
    lines = [line.split() for line in path.read_text().splitlines() if line.count(" ") == 2]
    return [(int(n), float(t), int(pid)) for n, t, pid in lines]
