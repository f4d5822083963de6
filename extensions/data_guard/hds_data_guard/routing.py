"""Start-up check that the guard, not another handler, answers each route it guards."""

from __future__ import annotations

from jupyter_server.utils import url_path_join
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import Application

from . import handlers, terminals

# (method, path under base_url, the handler that must answer it)
PROBES = [
    ("GET", "files/probe.csv", handlers.FilesRefusedHandler),
    ("GET", "files/probe.csv?download=1", handlers.FilesRefusedHandler),
    ("GET", "view/probe.html", handlers.ViewRefusedHandler),
    ("GET", "nbconvert/html/probe.ipynb", handlers.NbconvertRefusedHandler),
    ("POST", "nbconvert/html", handlers.NbconvertRefusedHandler),
    ("GET", "api/contents/dataset/probe.csv", handlers.GuardedContentsHandler),
]


def handler_for(app: Application, method: str, url: str) -> type | None:
    """The handler class tornado would pick for `method url` on `app`."""
    request = HTTPServerRequest(
        start_line=RequestStartLine(method, url, "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "localhost"}),
    )
    delegate = app.find_handler(request)
    return getattr(delegate, "handler_class", None)


TERMINAL_PROBE = ("GET", "terminals/websocket/1", terminals.BudgetedTermSocket)


def unguarded_routes(app: Application, base_url: str, terminals_on: bool = False) -> list[str]:
    """Describe each probe answered by another handler than the guard's; empty when all hold.

    With `terminals_on`, the terminals' websocket must be the guard's too (it is metered).
    """
    problems = []
    for method, path, expected in [*PROBES, *([TERMINAL_PROBE] if terminals_on else [])]:
        url = url_path_join(base_url, path)
        found = handler_for(app, method, url)
        if found is not expected:
            name = f"{found.__module__}.{found.__qualname__}" if found else "nothing"
            problems.append(f"{method} {url} is answered by {name}, not {expected.__name__}")
    return problems
