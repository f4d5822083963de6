"""Nothing is lost when the audit service dies or the hub restarts; the chain goes on."""

from __future__ import annotations

import os
import signal
import time

import pytest

from jupyter_hds.audit.inbox import Inbox
from support.audit_record import audit_dir, entries, pid_alive, verify, wait_for, writer_pid
from support.hub import RealHub

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = RealHub(tmp_path_factory.mktemp("audit-restart")).start()
    yield hub
    hub.stop()


def create_users(hub, prefix: str, count: int) -> list[str]:
    names = [f"{prefix}{n}" for n in range(count)]
    for name in names:
        assert hub.api("POST", f"/users/{name}").status_code == 201
    return names


def assert_recorded_once(hub, names: list[str]) -> None:
    created = [e["target"] for e in entries(hub, action="user.create")]
    assert sorted(n for n in created if n in names) == sorted(names)


def test_events_wait_in_the_inbox_while_the_audit_service_is_down(hub):
    wait_for(hub, action="audit.start")
    pid = writer_pid(hub)
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):
        time.sleep(0.1)
    names = create_users(hub, "down", 15)
    assert Inbox(audit_dir(hub)).pending() >= 1  # durable, waiting for a writer
    # The hub notices its service died (it polls every 30 s) and starts it again.
    wait_for(hub, count=15, timeout=120, action="user.create", where=lambda e: e["target"] in names)
    assert writer_pid(hub) != pid
    assert_recorded_once(hub, names)
    assert Inbox(audit_dir(hub)).pending() == 0
    report = verify(hub)
    assert report.intact, report.lines()


def test_the_chain_goes_on_across_a_hub_restart(hub):
    before = create_users(hub, "before", 3)
    wait_for(hub, count=3, action="user.create", where=lambda e: e["target"] in before)
    started = len(entries(hub, action="audit.start"))
    hub.stop()
    head = verify(hub).head_seq  # the record as the stopped service left it
    hub.start()
    after = create_users(hub, "after", 3)
    wait_for(hub, count=3, action="user.create", where=lambda e: e["target"] in after)
    assert_recorded_once(hub, before + after)
    starts = entries(hub, action="audit.start")
    assert len(starts) == started + 1 and starts[-1]["seq"] > head
    assert starts[-1]["details"]["head_seq"] == head  # the new service picked up the old head
    report = verify(hub)
    assert report.intact, report.lines()
