"""A guarded action whose event cannot be recorded is refused; addresses come from proxies only.

In a real Jupyter server with the guard, against a real endpoint of the hub's contract: the
hub goes away (the endpoint stops listening) and the researcher's code replaces the spool
file with a folder or a FIFO, as the kernel's uid can in a user's container.
"""

from __future__ import annotations

import json
import os

import pytest

CSV = ("api", "contents", "dataset", "patients.csv")


def break_spool(guard, kind: str) -> None:
    path = guard.sink.spool.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir() if kind == "folder" else os.mkfifo(path)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
async def test_a_dataset_read_that_cannot_be_recorded_is_refused(
    kind, jp_fetch, guard, hub_endpoint
):
    hub_endpoint.stop()
    break_spool(guard, kind)
    response = await jp_fetch(*CSV, params={"format": "text"}, raise_error=False)
    assert response.code == 503
    assert b"pseudo_id" not in response.body
    assert "cannot be opened now" in json.loads(response.body)["message"]

    hub_endpoint.start()
    assert await guard.sink.flush()  # what the server kept in memory reaches the hub after
    # The read did not happen: the hub learns of the refused attempt, under the read's number.
    assert [(e["action"], e["outcome"], e["details"]["serial"]) for e in hub_endpoint.events] == [
        ("dataset.read.blocked", "refused", 1),
        ("guard.spool.failed", "failed", 2),
    ]
    assert hub_endpoint.events[0]["details"]["reason"] == "its audit event could not be recorded"


async def test_a_dataset_read_spooled_while_the_hub_is_down_is_served(
    jp_fetch, guard, hub_endpoint
):
    hub_endpoint.stop()
    response = await jp_fetch(*CSV, params={"format": "text"})
    assert "pseudo_id" in json.loads(response.body)["content"]
    hub_endpoint.start()
    assert await guard.sink.flush()
    assert hub_endpoint.actions() == [("dataset.read", "dataset/patients.csv", "allowed")]


async def test_a_refusal_with_a_broken_spool_still_reaches_the_hub(jp_fetch, guard, hub_endpoint):
    hub_endpoint.stop()
    break_spool(guard, "folder")
    response = await jp_fetch("files", "work", "report.html", raise_error=False)
    assert response.code == 403
    hub_endpoint.start()
    assert await guard.sink.flush()
    assert [e["action"] for e in hub_endpoint.events] == ["download.blocked", "guard.spool.failed"]


async def test_with_the_hub_up_a_broken_spool_changes_nothing(jp_fetch, guard, hub_endpoint):
    break_spool(guard, "fifo")
    response = await jp_fetch(*CSV, params={"format": "text"})
    assert response.code == 200
    assert hub_endpoint.actions() == [("dataset.read", "dataset/patients.csv", "allowed")]


async def test_the_source_is_never_taken_from_x_real_ip(jp_fetch, guard, hub_endpoint):
    # jupyterhub-singleuser forces trust_xheaders (as this test server's config does), so
    # Tornado would take remote_ip from these headers.
    headers = {"X-Real-Ip": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"}
    await jp_fetch("files", "work", "report.html", headers=headers, raise_error=False)
    [event] = hub_endpoint.events
    assert event["source"] == "127.0.0.1", "the peer: the request did not come through our proxy"


async def test_forwarded_for_is_read_through_the_hubs_proxy_only(
    jp_fetch, guard, hub_endpoint, monkeypatch
):
    # The hub's proxy connects from the hub's address on the project network: the host of
    # JUPYTERHUB_API_URL (here loopback, where the test client is).
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    guard._proxies = None
    headers = {"X-Real-Ip": "10.9.9.9", "X-Forwarded-For": "10.9.9.9, 192.0.2.7"}
    await jp_fetch("files", "work", "report.html", headers=headers, raise_error=False)
    [event] = hub_endpoint.events
    assert event["source"] == "192.0.2.7", "the address our proxy appended, not one written before"
