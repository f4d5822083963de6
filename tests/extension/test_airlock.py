"""The airlock's server extension in a real Jupyter server, with a real HTTP server as the hub.

Every refusal happens before anything reaches the hub; a good request reaches it with each
file's true size and sha256, and the hub's answers come back to the browser unchanged.
"""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any
from urllib.parse import parse_qs

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

ROUTE = ("api", "hds", "airlock", "requests")
PROJECT = "cohort-2024"
TABLE = b"age_band,sex,count\n40-44,F,12\n40-44,M,15\n"
FIGURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


class _RequestsHandler(RequestHandler):
    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def _token_ok(self) -> bool:
        if self.request.headers.get("Authorization") == f"token {self.hub.token}":
            return True
        self.set_status(401)
        self.finish({"message": "bad token"})
        return False

    def post(self) -> None:
        body = json.loads(self.request.body)
        self.hub.received.append(("POST", self.request.headers.get("Authorization"), body))
        if not self._token_ok():
            return
        if self.hub.refusal:
            status, message = self.hub.refusal
            self.set_status(status)
            self.finish({"message": message})
            return
        request_id = f"r{len(self.hub.stored) + 1}"
        self.hub.stored.append({"id": request_id, "status": "submitted", "created":
                                "2026-11-30T12:00:00Z", "comments": [], **body})  # fmt: skip
        self.set_status(201)
        self.finish({"id": request_id, "status": "submitted"})

    def get(self) -> None:
        query = parse_qs(self.request.query)
        self.hub.received.append(("GET", self.request.headers.get("Authorization"), query))
        if not self._token_ok():
            return
        keys = ("id", "status", "purpose", "created", "comments")
        requests = [
            {**{k: r[k] for k in keys},
             "files": [{k: f[k] for k in ("path", "size", "sha256")} for f in r["files"]]}
            for r in self.hub.stored
            if r["project"] == query["project"][0]
        ]  # fmt: skip
        self.finish({"requests": requests})


class FakeHub:
    """`/hub/api/hds/airlock/requests` on 127.0.0.1:<free port>, answering per the contract.

    Records every request it receives; `refusal = (status, message)` makes it refuse.
    """

    def __init__(self, token: str):
        self.token = token
        self.received: list[tuple[str, str | None, Any]] = []
        self.stored: list[dict[str, Any]] = []
        self.refusal: tuple[int, str] | None = None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{self.port}/hub/api"
        self._server: HTTPServer | None = None

    def start(self) -> FakeHub:
        routes = [("/hub/api/hds/airlock/requests", _RequestsHandler, {"hub": self})]
        self._server = HTTPServer(Application(routes))
        self._server.listen(self.port, "127.0.0.1")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
async def hub(hub_endpoint):
    """The hub's airlock endpoint; the server's token is the one the conftest hands it."""
    hub = FakeHub(hub_endpoint.token).start()
    yield hub
    hub.stop()


@pytest.fixture
def jp_server_config(jp_server_config, hub, monkeypatch):
    """The shipped config; the hub's address, the project and the owner as JupyterHub sets them."""
    monkeypatch.setenv("JUPYTERHUB_API_URL", hub.api_url)
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", PROJECT)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    extensions = jp_server_config["ServerApp"].setdefault("jpserver_extensions", {})
    extensions["hds_airlock"] = True
    return jp_server_config


@pytest.fixture
def home(jp_root_dir, tmp_path):
    """A home folder like a user server's: dataset, work, shared, and links in and out."""
    for folder in ("dataset", "work", "shared", "work/tables"):
        (jp_root_dir / folder).mkdir()
    (jp_root_dir / "dataset" / "patients.csv").write_text("pseudo_id,sex\na1b2,F\n")
    (jp_root_dir / "work" / "table.csv").write_bytes(TABLE)
    (jp_root_dir / "work" / "tables" / "empty.csv").write_bytes(b"")
    (jp_root_dir / "shared" / "figure.png").write_bytes(FIGURE)
    (jp_root_dir / "notes.txt").write_text("in the home folder, not in work/")
    (tmp_path / "elsewhere.csv").write_bytes(TABLE)
    (jp_root_dir / "work" / "patients.csv").symlink_to("../dataset/patients.csv")
    (jp_root_dir / "work" / "dataset").symlink_to("../dataset")
    (jp_root_dir / "work" / "elsewhere.csv").symlink_to(tmp_path / "elsewhere.csv")
    (jp_root_dir / "work" / "figure.png").symlink_to("../shared/figure.png")
    return jp_root_dir


@pytest.fixture
def airlock(jp_serverapp, home):
    """The running extension (AirlockApp), after the server started with the home in place."""
    return jp_serverapp.web_app.settings["hds_airlock"]


def request(*files: str | dict, **fields: Any) -> dict[str, Any]:
    """A request body: each file a path (described) or a full entry."""
    entries = [f if isinstance(f, dict) else
               {"path": f, "description": f"counts by age band in {f}", "min_cell_size": 11}
               for f in files]  # fmt: skip
    return {
        "purpose": "Table 2 of the cohort paper",
        "files": entries,
        "notebook_outputs": "strip",
        "share_with_project": False,
        "replaces": None,
        **fields,
    }


async def post(jp_fetch, body: Any):
    raw = body if isinstance(body, bytes) else json.dumps(body)
    response = await jp_fetch(*ROUTE, method="POST", body=raw, raise_error=False)
    return response.code, json.loads(response.body)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_good_request_reaches_the_hub_with_sizes_and_sha256(jp_fetch, airlock, hub):
    body = request("work/table.csv", "shared/figure.png", "work/tables/empty.csv",
                   share_with_project=True)  # fmt: skip
    status, answer = await post(jp_fetch, body)

    assert (status, answer) == (201, {"id": "r1", "status": "submitted"})
    [(method, authorization, sent)] = hub.received
    assert (method, authorization) == ("POST", f"token {hub.token}")
    assert sent == {
        "purpose": "Table 2 of the cohort paper",
        "files": [
            {"path": "work/table.csv", "description": "counts by age band in work/table.csv",
             "min_cell_size": 11, "size": len(TABLE), "sha256": sha256(TABLE)},
            {"path": "shared/figure.png", "description": "counts by age band in shared/figure.png",
             "min_cell_size": 11, "size": len(FIGURE), "sha256": sha256(FIGURE)},
            {"path": "work/tables/empty.csv", "description": "counts by age band in work/tables/empty.csv",
             "min_cell_size": 11, "size": 0, "sha256": sha256(b"")},
        ],
        "notebook_outputs": "strip",
        "share_with_project": True,
        "replaces": None,
        "project": PROJECT,
    }  # fmt: skip


async def test_a_link_inside_work_or_shared_is_sent_as_the_file_it_points_to(
    jp_fetch, airlock, hub
):
    """The hub copies what the path names: it gets the real file, never a link to follow."""
    status, _ = await post(jp_fetch, request("work/figure.png"))

    assert status == 201
    [(_, _, sent)] = hub.received
    [file] = sent["files"]
    assert (file["path"], file["sha256"]) == ("shared/figure.png", sha256(FIGURE))


async def test_optional_fields_take_their_safe_defaults(jp_fetch, airlock, hub):
    body = {"purpose": "Figure 1", "files": [{"path": "work/table.csv", "description": "counts"}]}
    status, _ = await post(jp_fetch, body)

    assert status == 201
    [(_, _, sent)] = hub.received
    assert sent["notebook_outputs"] == "strip"
    assert sent["share_with_project"] is False
    assert sent["replaces"] is None
    assert sent["files"][0]["min_cell_size"] is None


def _many(n: int) -> list[dict]:
    return [{"path": f"work/t{i}.csv", "description": "counts"} for i in range(n)]


# (case_id, request body, expected: (status, words the researcher reads))
REFUSALS = [
    ("outside-work-and-shared", request("notes.txt"), (403, "notes.txt is not in your work/ or shared/ folder")),
    ("absolute-path", request("/etc/passwd"), (400, "relative to your home folder")),
    ("dot-dot", request("work/../notes.txt"), (400, "'..' is not allowed")),
    ("dot-dot-into-dataset", request("work/../dataset/patients.csv"), (400, "'..' is not allowed")),
    ("dot-dot-back-into-work", request("shared/../work/table.csv"), (400, "'..' is not allowed")),
    ("in-the-dataset", request("dataset/patients.csv"), (403, "dataset files never leave the project")),
    ("symlink-into-the-dataset", request("work/patients.csv"), (403, "dataset files never leave the project")),
    ("through-a-linked-dataset-folder", request("work/dataset/patients.csv"), (403, "dataset files never leave the project")),
    ("symlink-out-of-home", request("work/elsewhere.csv"), (403, "is not in your work/ or shared/ folder (links are followed)")),
    ("folder", request("work/tables"), (400, "work/tables is a folder: choose the files inside it")),
    ("the-work-folder-itself", request("work"), (400, "work is a folder")),
    ("missing-file", request("work/gone.csv"), (404, "work/gone.csv does not exist")),
    ("no-files", request(), (400, "The request names no file")),
    ("files-not-a-list", {**request(), "files": "work/table.csv"}, (400, "The request names no file")),
    ("too-many-files", {**request(), "files": _many(21)}, (400, "at most 20 files; this one has 21")),
    ("same-file-twice", request("work/table.csv", "work/table.csv"), (400, "listed twice")),
    ("a-link-and-its-target", request("work/figure.png", "shared/figure.png"), (400, "are the same file")),
    ("missing-purpose", {k: v for k, v in request("work/table.csv").items() if k != "purpose"}, (400, "Write the purpose of the release")),
    ("blank-purpose", request("work/table.csv", purpose="   "), (400, "Write the purpose of the release")),
    ("missing-description", request({"path": "work/table.csv", "min_cell_size": 11}), (400, "Describe work/table.csv")),
    ("blank-description", request({"path": "work/table.csv", "description": " "}), (400, "Describe work/table.csv")),
    ("missing-path", request({"description": "counts"}), (400, "Each file needs a 'path'")),
    ("negative-cell-size", request({"path": "work/table.csv", "description": "c", "min_cell_size": -1}), (400, "must be a whole number")),
    ("text-cell-size", request({"path": "work/table.csv", "description": "c", "min_cell_size": "11"}), (400, "must be a whole number")),
    ("bad-notebook-choice", request("work/table.csv", notebook_outputs="all"), (400, "notebook_outputs must be 'strip'")),
    ("share-not-a-flag", request("work/table.csv", share_with_project="yes"), (400, "share_with_project must be true or false")),
    ("unknown-field", request("work/table.csv", reviewers=["bob"]), (400, "Unknown field(s) in the request: reviewers")),
    ("not-an-object", ["work/table.csv"], (400, "must be a JSON object")),
    ("not-json", b"purpose=x", (400, "must be JSON")),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "body", "expected"), REFUSALS, ids=[c[0] for c in REFUSALS])
async def test_refusals_say_what_to_do_and_send_nothing(
    case_id, body, expected, jp_fetch, airlock, hub
):
    status, answer = await post(jp_fetch, body)

    assert (status, list(answer)) == (expected[0], ["message"]), answer
    assert expected[1] in answer["message"]
    assert hub.received == []


async def test_too_large_a_request_is_refused_with_the_limit_named(jp_fetch, airlock, hub, home):
    airlock.max_request_bytes = len(TABLE) + len(FIGURE) - 1
    status, answer = await post(jp_fetch, request("work/table.csv", "shared/figure.png"))

    assert status == 413
    limit = f"{airlock.max_request_bytes:,} bytes"
    assert f"These files come to {len(TABLE) + len(FIGURE):,} bytes" in answer["message"]
    assert f"at most {limit} (AirlockApp.max_request_bytes)" in answer["message"]
    assert hub.received == []


async def test_the_default_limit_is_5_mib_and_named_in_mib(jp_fetch, airlock, hub, home):
    (home / "work" / "big.csv").write_bytes(b"1,2\n" * (5 * 1024 * 1024 // 4))
    (home / "work" / "one-more.csv").write_bytes(b"x")
    status, answer = await post(jp_fetch, request("work/big.csv", "work/one-more.csv"))

    assert status == 413
    assert "at most 5.0 MiB (5,242,880 bytes)" in answer["message"]
    assert hub.received == []


async def test_exactly_the_limit_is_accepted(jp_fetch, airlock, hub):
    airlock.max_request_bytes = len(TABLE)
    status, _ = await post(jp_fetch, request("work/table.csv"))
    assert status == 201


async def test_the_hubs_refusal_comes_back_unchanged(jp_fetch, airlock, hub):
    hub.refusal = (409, "Request r7 is already approved; it cannot be replaced.")
    status, answer = await post(jp_fetch, request("work/table.csv", replaces="r7"))

    message = "Request r7 is already approved; it cannot be replaced."
    assert (status, answer) == (409, {"message": message})
    [(_, _, sent)] = hub.received
    assert sent["replaces"] == "r7"


async def test_a_hub_that_cannot_be_reached_is_a_503(jp_fetch, airlock, hub):
    hub.stop()
    status, answer = await post(jp_fetch, request("work/table.csv"))

    assert status == 503
    assert "The hub cannot be reached right now, so nothing was sent" in answer["message"]
    listed = await jp_fetch(*ROUTE, raise_error=False)
    assert listed.code == 503
    assert "The hub cannot be reached" in json.loads(listed.body)["message"]


async def test_a_hub_error_is_a_502_that_says_to_try_again(jp_fetch, airlock, hub):
    hub.refusal = (500, "database is locked")
    status, answer = await post(jp_fetch, request("work/table.csv"))

    assert status == 502
    assert "HTTP 500: database is locked" in answer["message"]
    assert "Try again in a few minutes" in answer["message"]


async def test_the_list_is_this_projects_requests_from_the_hub(jp_fetch, airlock, hub):
    await post(jp_fetch, request("work/table.csv"))
    hub.stored.append({**hub.stored[0], "id": "other", "project": "another-project"})

    response = await jp_fetch(*ROUTE)

    assert json.loads(response.body) == {"requests": [{
        "id": "r1", "status": "submitted", "purpose": "Table 2 of the cohort paper",
        "created": "2026-11-30T12:00:00Z", "comments": [],
        "files": [{"path": "work/table.csv", "size": len(TABLE), "sha256": sha256(TABLE)}],
    }]}  # fmt: skip
    method, authorization, query = hub.received[-1]
    assert (method, authorization, query) == ("GET", f"token {hub.token}", {"project": [PROJECT]})


async def test_only_the_servers_owner_may_request(jp_fetch, airlock, hub):
    """A guest of a shared server would otherwise file requests under the owner's name."""
    airlock.owner = "bob"
    status, answer = await post(jp_fetch, request("work/table.csv"))
    listed = await jp_fetch(*ROUTE, raise_error=False)

    assert status == 403
    assert "Only bob, whose server this is, can request releases" in answer["message"]
    assert listed.code == 403
    assert hub.received == []


async def test_the_route_needs_a_login(jp_fetch, airlock, hub):
    response = await jp_fetch(*ROUTE, method="POST", body=json.dumps(request("work/table.csv")),
                              headers={"Authorization": ""}, raise_error=False)  # fmt: skip
    assert response.code == 403
    assert hub.received == []


async def test_a_server_without_a_hub_says_so(jp_fetch, airlock, hub):
    airlock.hub.url = ""
    status, answer = await post(jp_fetch, request("work/table.csv"))

    assert status == 503
    assert "not connected to a hub" in answer["message"]
    assert hub.received == []
