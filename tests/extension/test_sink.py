"""Event delivery to the hub, spool and replay, against a real HTTP endpoint of the contract."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from hds_data_guard.events import make_event
from hds_data_guard.sink import AuditSink
from hds_data_guard.spool import EventSpool

log = logging.getLogger("test-sink")


def event(n: int) -> dict:
    return make_event("download.blocked", actor="alice", outcome="refused", project="cohort-2024",
                      target=f"work/file-{n}.csv", source="10.0.0.1", route="/files",
                      method="GET", reason="file downloads are disabled")  # fmt: skip


@pytest.fixture
def spool(tmp_path):
    return EventSpool(tmp_path / "spool" / "events.jsonl")


@pytest.fixture
def sink(spool, hub_endpoint):
    return AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log, max_delay=0.1)


def targets(events: list[dict]) -> list[str]:
    return [e["target"] for e in events]


async def test_events_reach_the_hub_in_order_with_the_server_token(sink, spool, hub_endpoint):
    for n in range(3):
        sink.record(event(n))
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv", "work/file-2.csv"]
    request = hub_endpoint.requests[-1]
    assert request["authorization"] == f"token {hub_endpoint.token}"
    assert set(json.loads(request["body"])) == {"events"}
    assert len(spool) == 0


async def test_hub_down_keeps_events_on_disk_and_replays_them_in_order(sink, spool, hub_endpoint):
    sink.record(event(0))
    assert await sink.flush()
    hub_endpoint.stop()
    for n in (1, 2, 3):
        sink.record(event(n))
    assert not await sink.flush()
    assert targets(spool.head(10)) == ["work/file-1.csv", "work/file-2.csv", "work/file-3.csv"]

    hub_endpoint.start()
    sink.record(event(4))
    assert await sink.flush()
    assert targets(hub_endpoint.events) == [f"work/file-{n}.csv" for n in range(5)]
    assert len(spool) == 0


@pytest.mark.parametrize("status", [404, 429, 500, 502, 503])
async def test_answers_that_may_change_keep_events_for_later(status, sink, spool, hub_endpoint):
    hub_endpoint.fail_with = status
    sink.record(event(0))
    assert not await sink.flush()
    assert len(spool) == 1
    hub_endpoint.fail_with = 0
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv"]


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_refusals_move_events_aside_with_the_hubs_reason(status, sink, spool, hub_endpoint):
    hub_endpoint.fail_with = status
    sink.record(event(0))
    sink.record(event(1))
    assert await sink.flush()
    assert len(spool) == 0
    rejected = [json.loads(line) for line in spool.rejected_path.read_text().splitlines()]
    assert targets(rejected) == ["work/file-0.csv", "work/file-1.csv"]
    assert f"HTTP {status}" in rejected[0]["rejected"]


async def test_events_the_hub_does_not_accept_are_set_aside(sink, spool, hub_endpoint):
    events = [event(n) for n in range(3)]
    hub_endpoint.refuse_ids = {events[1]["id"]}
    for e in events:
        sink.record(e)
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-2.csv"]
    rejected = json.loads(spool.rejected_path.read_text())
    assert rejected["id"] == events[1]["id"]


async def test_a_restarted_server_replays_what_the_last_one_left(spool, hub_endpoint):
    hub_endpoint.stop()
    first = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    first.record(event(0))
    first.record(event(1))
    await first.close(timeout=1)
    assert len(spool) == 2

    hub_endpoint.start()
    second = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    assert await second.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv"]


async def test_background_delivery_retries_until_the_hub_is_back(sink, spool, hub_endpoint):
    hub_endpoint.stop()
    sink.record(event(0))  # starts the background delivery, which fails and waits
    await asyncio.sleep(0.3)
    assert hub_endpoint.events == []
    hub_endpoint.start()
    for _ in range(50):
        if hub_endpoint.events:
            break
        await asyncio.sleep(0.1)
    assert targets(hub_endpoint.events) == ["work/file-0.csv"]
    assert len(spool) == 0


async def test_large_backlogs_go_in_batches_in_order(spool, hub_endpoint):
    sink = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log, batch_size=2)
    hub_endpoint.stop()
    for n in range(5):
        sink.record(event(n))
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == [f"work/file-{n}.csv" for n in range(5)]
    assert [len(json.loads(r["body"])["events"]) for r in hub_endpoint.requests[-3:]] == [2, 2, 1]


async def test_unreadable_spool_lines_are_set_aside_not_lost(spool, sink, hub_endpoint):
    hub_endpoint.stop()
    sink.record(event(0))
    with spool.path.open("a") as f:
        f.write('{"half an event\n')
    sink.record(event(1))
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv"]
    assert spool.rejected_path.read_text() == '{"half an event\n'


async def test_unreadable_lines_past_the_first_batch_are_set_aside_in_turn(spool, hub_endpoint):
    sink = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log, batch_size=1)
    hub_endpoint.stop()
    sink.record(event(0))
    with spool.path.open("a") as f:
        f.write('{"half an event\n\n{"no": "id"}\n')
    sink.record(event(1))
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv"]
    assert spool.rejected_path.read_text() == '{"half an event\n{"no": "id"}\n'
    assert len(spool) == 0


async def test_events_recorded_while_a_batch_is_sent_stay_queued(sink, spool, hub_endpoint):
    send = sink.post

    async def post(events):
        if targets(events) == ["work/file-0.csv", "work/file-1.csv"]:
            spool.append(event(2))  # recorded while the hub is answering
        return await send(events)

    sink.post = post
    hub_endpoint.stop()
    sink.record(event(0))
    sink.record(event(1))
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == [f"work/file-{n}.csv" for n in range(3)]
    assert len(spool) == 0


async def test_without_a_hub_events_only_go_to_the_log(spool, event_lines):
    sink = AuditSink(spool, "", "", log=log)
    sink.record(event(0))
    assert await sink.flush()
    assert not spool.path.exists()
    assert json.loads(event_lines[0])["target"] == "work/file-0.csv"


async def test_a_full_or_broken_spool_still_logs_the_event(tmp_path, hub_endpoint, event_lines):
    (tmp_path / "not-a-folder").write_text("")
    spool = EventSpool(tmp_path / "not-a-folder" / "events.jsonl")
    sink = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    sink.record(event(0))  # must not raise: the refusal itself has already happened
    assert json.loads(event_lines[0])["target"] == "work/file-0.csv"


async def test_an_answer_that_is_not_the_contract_is_retried(sink, spool, hub_endpoint):
    hub_endpoint.stop()
    # Something else answers on the hub's address: a 200 that is not {"accepted": [...]}.
    from tornado.httpserver import HTTPServer
    from tornado.web import Application, RequestHandler

    class NotTheHub(RequestHandler):
        def post(self):
            self.finish("<html>proxy login page</html>")

    other = HTTPServer(Application([(r".*", NotTheHub)]))
    other.listen(hub_endpoint.port, "127.0.0.1")
    try:
        sink.record(event(0))
        assert not await sink.flush()
        assert len(spool) == 1
    finally:
        other.stop()
