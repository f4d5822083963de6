"""The start-up check that the guard's handlers, not others, answer the guarded routes."""

from __future__ import annotations

import pytest
from tornado.routing import PathMatches, Rule
from tornado.web import Application, RequestHandler

from hds_data_guard import handlers, routing


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


def test_the_guard_refuses_to_start_behind_an_extension_serving_files(
    jp_configurable_serverapp, jp_server_config, project_files
):
    jp_server_config["ServerApp"]["jpserver_extensions"]["a_rogue_files_extension"] = True
    with pytest.raises(RuntimeError, match="data guard cannot start: GET .*files/probe.csv"):
        jp_configurable_serverapp(config=jp_server_config)


async def test_a_route_taken_after_start_stops_the_server(jp_serverapp, guard, caplog):
    stopped = []
    jp_serverapp.web_app.default_router.rules.insert(
        0, Rule(PathMatches(r".*/files/(.*)"), RogueFiles)
    )
    jp_serverapp.stop = lambda: stopped.append(True)
    await guard._start_jupyter_server_extension(jp_serverapp)
    assert stopped == [True]
    assert "stopping the server rather than serve files" in caplog.text
