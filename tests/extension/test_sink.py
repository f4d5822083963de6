"""Event delivery to the hub: at once, else kept in memory and spooled, against a real endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest

from hds_data_guard.sink import AuditSink
from hds_data_guard.spool import EventSpool
from hds_records.events import Event

log = logging.getLogger("test-sink")


def event(n: int, action: str = "download.blocked", outcome: str = "refused") -> Event:
    return Event(action, actor="alice", outcome=outcome, project="cohort-2024",
                 target=f"work/file-{n}.csv", source="10.0.0.1",
                 details={"route": "/files", "method": "GET", "reason": "downloads disabled"})  # fmt: skip


@pytest.fixture
def spool(tmp_path):
    return EventSpool(tmp_path / "spool" / "events.jsonl")


@pytest.fixture
def sink(spool, hub_endpoint):
    return AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log, max_delay=0.1,
                     project="cohort-2024")  # fmt: skip


def targets(events: list[dict]) -> list[str]:
    return [e["target"] for e in events]


def spooled(spool: EventSpool) -> list[str]:
    if not spool.path.exists():
        return []
    return [json.loads(line)["target"] for line in spool.path.read_text().splitlines()]


async def test_events_reach_the_hub_at_once_numbered_with_the_server_token(
    sink, spool, hub_endpoint
):
    for n in range(3):
        assert await sink.record(event(n)) is True
    # Delivered before record() returned: nothing waits, nothing was written to disk.
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv", "work/file-2.csv"]
    assert [e["details"]["serial"] for e in hub_endpoint.events] == [1, 2, 3]
    assert {e["details"]["stream"] for e in hub_endpoint.events} == {sink.stream}
    assert hub_endpoint.events[0]["details"]["reason"] == "downloads disabled"
    request = hub_endpoint.requests[-1]
    assert request["authorization"] == f"token {hub_endpoint.token}"
    assert set(json.loads(request["body"])) == {"events"}
    assert not spool.path.exists() and not sink.pending


async def test_hub_down_keeps_events_in_memory_and_on_disk_then_replays_in_order(
    sink, spool, hub_endpoint
):
    assert await sink.record(event(0))
    hub_endpoint.stop()
    for n in (1, 2, 3):
        assert await sink.record(event(n)) is True  # spooled: recorded for the hub
    assert spooled(spool) == ["work/file-1.csv", "work/file-2.csv", "work/file-3.csv"]
    assert not await sink.flush()

    hub_endpoint.start()
    assert await sink.record(event(4))  # queued behind the others, not sent ahead of them
    assert await sink.flush()
    assert targets(hub_endpoint.events) == [f"work/file-{n}.csv" for n in range(5)]
    assert [e["details"]["serial"] for e in hub_endpoint.events] == [1, 2, 3, 4, 5]
    assert not spool.path.exists() and not sink.pending


async def test_memory_not_the_spool_is_what_is_replayed(sink, spool, hub_endpoint):
    """The researcher's code can rewrite the spool (same uid); it cannot reach the server's memory."""
    hub_endpoint.stop()
    assert await sink.record(event(0))
    spool.path.write_text(json.dumps({**event(9).to_dict(), "target": "work/harmless.csv"}) + "\n")
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv"]


@pytest.mark.parametrize("status", [404, 429, 500, 502, 503])
async def test_answers_that_may_change_keep_events_for_later(status, sink, spool, hub_endpoint):
    hub_endpoint.fail_with = status
    assert await sink.record(event(0))
    assert spooled(spool) == ["work/file-0.csv"] and len(sink.pending) == 1
    hub_endpoint.fail_with = 0
    assert await sink.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv"]


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_refusals_move_events_aside_with_the_hubs_reason(status, sink, spool, hub_endpoint):
    hub_endpoint.fail_with = status
    assert await sink.record(event(0))  # answered: the hub keeps its refusal as evidence
    assert await sink.record(event(1))
    assert not sink.pending and not spool.path.exists()
    rejected = [json.loads(line) for line in spool.rejected_path.read_text().splitlines()]
    assert targets(rejected) == ["work/file-0.csv", "work/file-1.csv"]
    assert f"HTTP {status}" in rejected[0]["rejected"]


async def test_events_the_hub_does_not_accept_are_set_aside(sink, spool, hub_endpoint):
    events = [event(n) for n in range(3)]
    hub_endpoint.refuse_ids = {events[1].id}
    for e in events:
        await sink.record(e)
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-2.csv"]
    rejected = json.loads(spool.rejected_path.read_text())
    assert rejected["id"] == events[1].id


async def test_a_restarted_server_replays_what_the_last_one_left(spool, hub_endpoint):
    hub_endpoint.stop()
    first = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    await first.record(event(0))
    await first.record(event(1))
    await first.close(timeout=1)
    assert spooled(spool) == ["work/file-0.csv", "work/file-1.csv"]

    hub_endpoint.start()
    second = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    second.start()
    assert await second.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv"]
    assert {e["details"]["stream"] for e in hub_endpoint.events} == {first.stream}
    assert second.stream != first.stream


async def test_background_delivery_retries_until_the_hub_is_back(sink, spool, hub_endpoint):
    hub_endpoint.stop()
    await sink.record(event(0))  # starts the background delivery, which fails and waits
    await asyncio.sleep(0.3)
    assert hub_endpoint.events == []
    hub_endpoint.start()
    for _ in range(50):
        if hub_endpoint.events:
            break
        await asyncio.sleep(0.1)
    assert targets(hub_endpoint.events) == ["work/file-0.csv"]
    assert not sink.pending and not spool.path.exists()


async def test_large_backlogs_go_in_batches_in_order(spool, hub_endpoint):
    sink = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log, batch_size=2)
    hub_endpoint.stop()
    for n in range(5):
        await sink.record(event(n))
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == [f"work/file-{n}.csv" for n in range(5)]
    assert [len(json.loads(r["body"])["events"]) for r in hub_endpoint.requests[-3:]] == [2, 2, 1]


async def test_unreadable_spool_lines_are_set_aside_not_lost(spool, hub_endpoint):
    hub_endpoint.stop()
    first = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    await first.record(event(0))
    with spool.path.open("a") as f:
        f.write('{"half an event\n\n{"no": "id"}\n')
    await first.record(event(1))
    await first.close(timeout=0.5)
    hub_endpoint.start()
    second = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log)
    second.start()
    assert await second.flush()
    assert targets(hub_endpoint.events) == ["work/file-0.csv", "work/file-1.csv"]
    assert spool.rejected_path.read_text() == '{"half an event\n{"no":"id"}\n'


async def test_events_recorded_while_a_batch_is_sent_stay_queued(sink, spool, hub_endpoint):
    send = sink.post

    async def post(events):
        if targets(events) == ["work/file-0.csv", "work/file-1.csv"]:
            assert await sink.record(event(2))  # recorded while the hub is answering
        return await send(events)

    hub_endpoint.stop()
    await sink.record(event(0))
    await sink.record(event(1))
    sink.post = post
    hub_endpoint.start()
    assert await sink.flush()
    assert targets(hub_endpoint.events) == [f"work/file-{n}.csv" for n in range(3)]
    assert not sink.pending


async def test_concurrent_events_reach_the_hub_in_number_order(sink, hub_endpoint):
    await asyncio.gather(*(sink.record(event(n)) for n in range(6)))
    assert await sink.flush()
    assert [e["details"]["serial"] for e in hub_endpoint.events] == [1, 2, 3, 4, 5, 6]


async def test_without_a_hub_events_only_go_to_the_log(spool, event_lines):
    sink = AuditSink(spool, "", "", log=log)
    assert await sink.record(event(0))
    assert await sink.flush()
    assert not spool.path.exists()
    assert json.loads(event_lines[0])["target"] == "work/file-0.csv"


def replace_with(path, kind: str) -> None:
    """What the researcher's code (same uid) can put in the spool file's place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(path.parent / "elsewhere.jsonl")


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink"])
async def test_a_spool_replaced_while_the_hub_is_up_loses_nothing(kind, sink, spool, hub_endpoint):
    replace_with(spool.path, kind)
    assert await sink.record(event(0)) is True  # delivered at once: the spool is not needed
    assert targets(hub_endpoint.events) == ["work/file-0.csv"]


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink"])
async def test_a_spool_replaced_while_the_hub_is_down_is_refused_and_reported(
    kind, sink, spool, hub_endpoint, event_lines
):
    replace_with(spool.path, kind)
    hub_endpoint.stop()
    # Neither delivered nor spooled: not recorded, so a guarded read must be refused. A FIFO
    # is opened without blocking: the server is never stuck waiting for a reader.
    assert await asyncio.wait_for(sink.record(event(0)), 5) is False
    assert await sink.record(event(1)) is False
    failures = [json.loads(line) for line in event_lines if "guard.spool.failed" in line]
    assert len(failures) == 1, "reported once for a run of failures"
    assert "not a regular file" in failures[0]["details"]["error"]

    hub_endpoint.start()
    assert await sink.flush()  # kept in memory: all reach the hub once it is back
    assert [(e["action"], e["target"]) for e in hub_endpoint.events] == [
        ("download.blocked", "work/file-0.csv"),
        ("guard.spool.failed", str(spool.path)),
        ("download.blocked", "work/file-1.csv"),
    ]
    assert hub_endpoint.events[1]["outcome"] == "failed"
    assert hub_endpoint.events[1]["actor"] == "alice"
    assert hub_endpoint.events[1]["project"] == "cohort-2024"


async def test_a_repaired_spool_is_used_again_and_a_new_failure_reported_again(
    sink, spool, hub_endpoint, event_lines
):
    hub_endpoint.stop()
    replace_with(spool.path, "folder")
    assert await sink.record(event(0)) is False
    spool.path.rmdir()
    assert await sink.record(event(1)) is True
    replace_with(spool.path, "folder")
    assert await sink.record(event(2)) is False
    assert sum("guard.spool.failed" in line for line in event_lines) == 2


async def test_past_the_memory_limit_events_are_dropped_and_their_numbers_missed(
    spool, hub_endpoint
):
    sink = AuditSink(spool, hub_endpoint.url, hub_endpoint.token, log=log, max_pending=2)
    hub_endpoint.stop()
    assert [await sink.record(event(n)) for n in range(4)] == [True, True, False, False]
    hub_endpoint.start()
    assert await sink.flush()
    assert await sink.record(event(4))
    reached = [(e["action"], e["details"]["serial"]) for e in hub_endpoint.events]
    # 3 and 5 (dropped) are missing, which the hub records; the first drop is reported (4).
    assert reached == [("download.blocked", 1), ("download.blocked", 2),
                       ("guard.spool.failed", 4), ("download.blocked", 6)]  # fmt: skip
    assert "events dropped" in hub_endpoint.events[2]["details"]["error"]


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
        assert await sink.record(event(0))
        assert not await sink.flush()
        assert len(sink.pending) == 1 and spooled(spool) == ["work/file-0.csv"]
    finally:
        other.stop()
