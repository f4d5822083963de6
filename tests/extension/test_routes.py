"""Every route that hands file bytes to the browser, tried on the guard in a real Jupyter server."""

from __future__ import annotations

import json

import pytest

NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

DOWNLOAD = "Downloads are disabled"
EXPORT = "Exporting notebooks"
RAW = "cannot be opened as raw bytes"
API = "/api/contents"
PARQUET = "dataset/patients.parquet"
CSV = "dataset/patients.csv"

# (case_id,
#  request: (method, path, query, JSON body),
#  expected: (status, words the researcher reads in the answer,
#             event: (action, target, outcome, route), or None when no event is due))
CASES = [
    ("files-get",
     ("GET", "files/work/analysis.ipynb", {}, None),
     (403, DOWNLOAD, ("download.blocked", "work/analysis.ipynb", "refused", "/files"))),
    ("files-download",
     ("GET", f"files/{CSV}", {"download": "1"}, None),
     (403, DOWNLOAD, ("download.blocked", CSV, "refused", "/files"))),
    ("files-head",
     ("HEAD", f"files/{PARQUET}", {}, None),
     (403, "", ("download.blocked", PARQUET, "refused", "/files"))),
    ("view-get",
     ("GET", "view/work/report.html", {}, None),
     (403, DOWNLOAD, ("download.blocked", "work/report.html", "refused", "/view"))),
    ("nbconvert-get",
     ("GET", "nbconvert/html/work/analysis.ipynb", {"download": "true"}, None),
     (403, EXPORT, ("export.blocked", "work/analysis.ipynb", "refused", "/nbconvert"))),
    ("nbconvert-get-dataset",
     ("GET", "nbconvert/script/dataset/codebook.ipynb", {}, None),
     (403, EXPORT, ("export.blocked", "dataset/codebook.ipynb", "refused", "/nbconvert"))),
    ("nbconvert-post",
     ("POST", "nbconvert/html", {}, {"name": "x.ipynb", "content": NOTEBOOK}),
     (403, EXPORT, ("export.blocked", None, "refused", "/nbconvert"))),
    ("contents-base64-dataset",
     ("GET", f"api/contents/{PARQUET}", {"format": "base64", "type": "file"}, None),
     (403, RAW, ("dataset.read.blocked", PARQUET, "refused", API))),
    ("contents-base64-dataset-text-file",
     ("GET", f"api/contents/{CSV}", {"format": "base64"}, None),
     (403, RAW, ("dataset.read.blocked", CSV, "refused", API))),
    ("contents-no-format-binary-dataset",
     ("GET", f"api/contents/{PARQUET}", {}, None),
     (403, RAW, ("dataset.read.blocked", PARQUET, "refused", API))),
    ("contents-base64-link-into-dataset",
     ("GET", "api/contents/work/link.parquet", {"format": "base64"}, None),
     (403, RAW, ("dataset.read.blocked", "work/link.parquet", "refused", API))),
    ("contents-copy-out-of-dataset",
     ("POST", "api/contents/work", {}, {"copy_from": CSV}),
     (403, "cannot be copied", ("dataset.copy.blocked", CSV, "refused", API))),
    ("contents-copy-through-link",
     ("POST", "api/contents/work", {}, {"copy_from": "work/link.parquet"}),
     (403, "cannot be copied", ("dataset.copy.blocked", "work/link.parquet", "refused", API))),
    ("contents-copy-the-home-folder",
     ("POST", "api/contents/work", {}, {"copy_from": "/"}),
     (403, "cannot be copied", ("dataset.copy.blocked", "/", "refused", API))),
    ("contents-copy-the-home-folder-dot-dot",
     ("POST", "api/contents/work", {}, {"copy_from": "work/.."}),
     (403, "cannot be copied", ("dataset.copy.blocked", "work/..", "refused", API))),
    ("contents-copy-a-folder-holding-a-link",
     ("POST", "api/contents", {}, {"copy_from": "work"}),
     (403, "cannot be copied", ("dataset.copy.blocked", "work", "refused", API))),
    ("contents-move-out-of-dataset",
     ("PATCH", f"api/contents/{CSV}", {}, {"path": "work/patients.csv"}),
     (403, "cannot be moved", ("dataset.move.blocked", CSV, "refused", API))),
    ("contents-text-dataset",
     ("GET", f"api/contents/{CSV}", {"format": "text", "type": "file"}, None),
     (200, "pseudo_id", ("dataset.read", CSV, "allowed", API))),
    ("contents-notebook-dataset",
     ("GET", "api/contents/dataset/codebook.ipynb", {}, None),
     (200, "Codebook", ("dataset.read", "dataset/codebook.ipynb", "allowed", API))),
    ("contents-list-dataset",
     ("GET", "api/contents/dataset", {}, None),
     (200, "patients.parquet", None)),
    ("contents-metadata-dataset",
     ("GET", f"api/contents/{PARQUET}", {"content": "0"}, None),
     (200, "patients.parquet", None)),
    ("contents-base64-work",
     ("GET", "api/contents/work/plot.png", {"format": "base64"}, None),
     (200, "base64", None)),
    ("contents-copy-in-work",
     ("POST", "api/contents/work", {}, {"copy_from": "work/analysis.ipynb"}),
     (201, "analysis-Copy1.ipynb", None)),
]  # fmt: skip


async def fetch(jp_fetch, method, path, query, body):
    kwargs = {"method": method, "params": query, "raise_error": False}
    if body is not None or method in ("POST", "PATCH", "PUT"):
        kwargs["body"] = json.dumps(body or {})
    return await jp_fetch(*path.split("/"), **kwargs)


@pytest.mark.parametrize(("case_id", "request_", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_route(
    case_id, request_, expected, jp_fetch, guard, guard_config, hub_endpoint, event_lines
):
    method, path, query, body = request_
    status, words, event = expected

    response = await fetch(jp_fetch, method, path, query, body)
    assert await guard.sink.flush()

    assert response.code == status, response.body[:500]
    assert words in response.body.decode()
    if event is None:
        assert hub_endpoint.events == []
        assert event_lines == []
        return
    action, target, outcome, route = event
    [sent] = hub_endpoint.events
    assert (sent["action"], sent["target"], sent["outcome"]) == (action, target, outcome)
    assert sent["details"]["route"] == route
    assert sent["details"]["method"] == method
    assert sent["details"]["reason"]
    assert sent["actor"] == "alice"
    assert sent["project"] == guard_config["project"]
    assert sent["source"] == "127.0.0.1"
    assert [json.loads(line) for line in event_lines] == [sent]


async def test_download_link_is_marked_as_attachment(jp_fetch, guard, hub_endpoint):
    await fetch(jp_fetch, "GET", "files/work/plot.png", {"download": "1"}, None)
    assert await guard.sink.flush()
    assert hub_endpoint.events[0]["details"]["attachment"] is True


async def test_copy_refusal_names_the_destination(jp_fetch, guard, hub_endpoint):
    await fetch(jp_fetch, "POST", "api/contents/work", {}, {"copy_from": "dataset/patients.csv"})
    assert await guard.sink.flush()
    assert hub_endpoint.events[0]["details"]["destination"] == "work"


async def test_refused_copy_and_move_leave_no_file_behind(jp_fetch, guard, project_files):
    await fetch(jp_fetch, "POST", "api/contents/work", {}, {"copy_from": "dataset/patients.csv"})
    await fetch(jp_fetch, "PATCH", "api/contents/dataset/patients.csv", {}, {"path": "work/p.csv"})
    assert sorted(p.name for p in (project_files / "work").iterdir()) == [
        "analysis.ipynb", "link.parquet", "plot.png", "report.html"
    ]  # fmt: skip
    assert (project_files / "dataset" / "patients.csv").exists()


async def test_anonymous_requests_are_not_served_and_not_recorded(jp_fetch, guard, hub_endpoint):
    response = await jp_fetch(
        "files", "dataset", "patients.csv", headers={"Authorization": ""}, raise_error=False,
        follow_redirects=False,
    )  # fmt: skip
    assert response.code == 302  # to the login page, with nothing of the file
    assert "login" in response.headers["Location"]
    assert b"pseudo_id" not in response.body
    assert await guard.sink.flush()
    assert hub_endpoint.events == []
