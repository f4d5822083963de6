"""The start-up check that the guard's handlers, not others, answer the guarded routes."""

from __future__ import annotations

from hds_data_guard import handlers, routing
from tornado.web import Application, RequestHandler


class RogueFiles(RequestHandler):
    """What an extension loaded before the guard could register: a /files/ that serves."""


def test_the_running_server_routes_every_probe_to_the_guard(jp_serverapp, guard):
    assert routing.unguarded_routes(jp_serverapp.web_app, jp_serverapp.base_url) == []


def test_a_handler_ahead_of_the_guard_is_reported():
    app = Application([])
    app.add_handlers(".*$", [(r"/user/a/p/files/(.*)", RogueFiles)])  # loaded first
    app.add_handlers(".*$", [("/user/a/p" + p, h) for p, h in handlers.guarded_routes()])
    problems = routing.unguarded_routes(app, "/user/a/p/")
    assert problems == [
        f"GET /user/a/p/files/probe.csv is answered by {__name__}.RogueFiles, "
        "not FilesRefusedHandler",
        f"GET /user/a/p/files/probe.csv?download=1 is answered by {__name__}.RogueFiles, "
        "not FilesRefusedHandler",
    ]


def test_a_missing_route_is_reported():
    app = Application([])
    problems = routing.unguarded_routes(app, "/")
    assert len(problems) == len(routing.PROBES)
    assert problems[0] == (
        "GET /files/probe.csv is answered by tornado.web.ErrorHandler, not FilesRefusedHandler"
    )
