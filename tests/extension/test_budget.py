"""Reads through the browser are recorded from a size on, and each person has a daily budget of
bytes sent to their browser: file contents and kernel outputs (issue 19 item 11 b and c).

In a real Jupyter server with the guard and a real ipykernel, against a real endpoint of the
hub's audit contract; kernel outputs go through a real kernel websocket (JupyterLab's
protocol, `support.kernel_channels`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from jupyter_server.services.kernels.connection.base import BaseKernelWebsocketConnection
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.utils import url_path_join

from hds_data_guard import routing
from hds_data_guard.budget import NOTES_A_DAY, BrowserBudget
from hds_data_guard.kernels import BudgetedConnection
from hds_data_guard.terminals import BudgetedTermSocket
from support.kernel_channels import PROTOCOL, KernelChannels

KIB = 1024
BUDGET = 64 * KIB
TODAY = datetime.now(UTC).date()


@pytest.fixture
def budget_settings(request):
    """The guard's budget settings; a test changes some with `indirect` parametrisation."""
    defaults = {"browser_bytes_day": BUDGET, "budget_share": 16 * KIB,
                "record_reads_above": 32 * KIB, "budget_grace": 8 * KIB}  # fmt: skip
    return defaults | getattr(request, "param", {})


@pytest.fixture
def guard_config(guard_config, budget_settings):
    return {**guard_config, **budget_settings}


def write(root, path: str, data: bytes) -> bytes:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(data)
    return data


def of(hub_endpoint, action: str) -> list[dict]:
    return [e for e in hub_endpoint.events if e["action"] == action]


def notebook_bytes(size: int) -> bytes:
    cell = {"cell_type": "markdown", "id": "c1", "metadata": {}, "source": "x" * size}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5}).encode()  # fmt: skip


# --- (b) reads from a size on are recorded with their path, size and sha256 -------------


@pytest.mark.parametrize(
    ("case_id", "path", "data", "query", "format_"),
    [
        ("base64", "work/big.bin", bytes(range(256)) * 160, {"format": "base64"}, "base64"),
        ("binary-no-format", "work/big.bin", bytes(range(256)) * 160, {}, "base64"),
        ("text", "work/big.csv", b"a,b\n1,2\n" * 5000, {"format": "text"}, "text"),
        ("text-no-format", "work/big.csv", b"a,b\n1,2\n" * 5000, {}, "text"),
        ("notebook", "work/big.ipynb", notebook_bytes(40 * KIB), {}, "json"),
    ],
)
async def test_a_large_read_is_recorded_with_its_path_size_and_sha256(
    case_id, path, data, query, format_, jp_fetch, guard, hub_endpoint, jp_root_dir
):
    write(jp_root_dir, path, data)
    response = await jp_fetch("api", "contents", path, params=query)
    assert response.code == 200
    [event] = hub_endpoint.events
    assert (event["action"], event["target"], event["outcome"]) == ("file.read", path, "allowed")
    details = event["details"]
    assert details["size"] == len(data)
    assert details["sha256"] == hashlib.sha256(data).hexdigest()
    assert details["format"] == format_
    assert details["served"] == len(data), "the read is its own share of the budget"
    assert details["route"] == "/api/contents"


async def test_a_small_read_is_not_recorded_on_its_own(jp_fetch, guard, hub_endpoint, jp_root_dir):
    write(jp_root_dir, "work/small.csv", b"a,b\n" * 100)
    for _ in range(3):
        await jp_fetch("api", "contents", "work", "small.csv", params={"format": "text"})
    # One share of the budget, recorded before the first byte went out, covers all three.
    [share] = hub_endpoint.events
    assert share["action"] == "browser.budget.reserved"
    assert share["details"]["served"] == 16 * KIB
    assert share["details"]["channel"] == "files"


async def test_small_reads_take_the_next_share_before_they_need_it(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    write(jp_root_dir, "work/table.csv", b"x" * 10 * KIB)
    await jp_fetch("api", "contents", "work", "table.csv", params={"format": "text"})
    # 10 KiB of a 16 KiB share used: less than half is left, so the next one is recorded
    # now, and the next read does not wait for the record.
    await wait_for(lambda: len(of(hub_endpoint, "browser.budget.reserved")) == 2)
    shares = of(hub_endpoint, "browser.budget.reserved")
    assert [s["details"]["served"] for s in shares] == [16 * KIB, 16 * KIB]
    assert guard.budget.account("alice").granted == 32 * KIB


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("budget_settings", [{"record_reads_above": 0}], indirect=True)
async def test_record_reads_above_zero_records_every_read(jp_fetch, guard, hub_endpoint):
    await jp_fetch("api", "contents", "work", "report.html", params={"format": "text"})
    assert hub_endpoint.actions() == [("file.read", "work/report.html", "allowed")]


# --- (c) the daily budget, on files --------------------------------------------------------


async def test_past_the_budget_reads_are_refused_with_the_airlock_and_recorded_once(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    write(jp_root_dir, "work/part.bin", bytes(range(256)) * 160)  # 40 KiB: recorded alone
    first = await jp_fetch("api", "contents", "work", "part.bin", params={"format": "base64"})
    assert first.code == 200

    refused = []
    for _ in range(3):
        response = await jp_fetch("api", "contents", "work", "part.bin",
                                  params={"format": "base64"}, raise_error=False)  # fmt: skip
        refused.append(response)
    assert [r.code for r in refused] == [403, 403, 403]
    message = json.loads(refused[0].body)["message"]
    assert "64 KiB" in message and "daily limit" in message
    assert "Request release" in message
    # Recorded once a day, not at each refusal.
    [exceeded] = of(hub_endpoint, "browser.budget.exceeded")
    assert (exceeded["target"], exceeded["outcome"], exceeded["actor"]) == (
        "work/part.bin", "refused", "alice",
    )  # fmt: skip
    assert exceeded["details"]["budget"] == BUDGET
    assert exceeded["details"]["spent"] == 40 * KIB
    # Small files are refused too once nothing is left.
    write(jp_root_dir, "work/tiny.txt", b"x" * 30 * KIB)
    tiny = await jp_fetch("api", "contents", "work", "tiny.txt", raise_error=False)
    assert tiny.code == 403
    assert len(of(hub_endpoint, "browser.budget.exceeded")) == 1


async def test_listings_and_metadata_do_not_count(jp_fetch, guard, hub_endpoint):
    for _ in range(50):
        await jp_fetch("api", "contents", "work")
        await jp_fetch("api", "contents", "work", "plot.png", params={"content": "0"})
    assert hub_endpoint.events == []


@pytest.mark.parametrize(
    "budget_settings",
    [{"browser_bytes_day": BUDGET, "browser_served": {
        "day": TODAY.isoformat(), "served": {"alice": BUDGET - 10}, "exceeded": []}}],
    indirect=True,
)  # fmt: skip
async def test_a_restarted_server_goes_on_from_what_the_hub_counted_today(
    jp_fetch, guard, hub_endpoint
):
    response = await jp_fetch("api", "contents", "work", "report.html", params={"format": "text"},
                              raise_error=False)  # fmt: skip
    assert response.code == 403
    [exceeded] = hub_endpoint.events
    assert exceeded["action"] == "browser.budget.exceeded"
    assert exceeded["details"]["spent"] == BUDGET - 10  # report.html: 15 bytes


@pytest.mark.parametrize(
    "budget_settings",
    [{"browser_bytes_day": BUDGET, "browser_served": {
        "day": TODAY.isoformat(), "served": {"alice": BUDGET}, "exceeded": ["alice"]}}],
    indirect=True,
)  # fmt: skip
async def test_a_refusal_the_hub_already_has_today_is_not_recorded_again(
    jp_fetch, guard, hub_endpoint
):
    response = await jp_fetch("api", "contents", "work", "report.html", raise_error=False)
    assert response.code == 403
    assert hub_endpoint.events == []


@pytest.mark.parametrize(
    "budget_settings",
    [{"browser_bytes_day": BUDGET, "browser_served": {
        "day": (TODAY - timedelta(days=1)).isoformat(), "served": {"alice": BUDGET},
        "exceeded": ["alice"]}}],
    indirect=True,
)  # fmt: skip
async def test_yesterdays_count_does_not_carry_over(jp_fetch, guard, hub_endpoint):
    response = await jp_fetch("api", "contents", "work", "report.html")
    assert response.code == 200


async def test_a_share_that_cannot_be_recorded_is_not_spent(jp_fetch, guard, hub_endpoint):
    hub_endpoint.stop()
    guard.sink.spool.path.parent.mkdir(parents=True, exist_ok=True)
    guard.sink.spool.path.mkdir()  # the kernel's uid replaced the spool with a folder
    response = await jp_fetch("api", "contents", "work", "report.html", raise_error=False)
    assert response.code == 503
    assert "must be recorded" in json.loads(response.body)["message"]


async def test_a_refusal_that_cannot_be_recorded_is_recorded_at_the_next_one(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    write(jp_root_dir, "work/part.bin", bytes(range(256)) * 160)  # 40 KiB: recorded alone
    await jp_fetch("api", "contents", "work", "part.bin", params={"format": "base64"})
    hub_endpoint.stop()
    spool = guard.sink.spool.path
    spool.parent.mkdir(parents=True, exist_ok=True)
    spool.mkdir()  # the record cannot be reached: the refusal's event is lost
    first = await jp_fetch("api", "contents", "work", "part.bin", params={"format": "base64"},
                           raise_error=False)  # fmt: skip
    assert first.code == 403
    spool.rmdir()  # the spool is back: the next refusal is the one recorded
    for _ in range(2):
        again = await jp_fetch("api", "contents", "work", "part.bin",
                               params={"format": "base64"}, raise_error=False)  # fmt: skip
        assert again.code == 403
    spooled = [json.loads(line) for line in spool.read_text().splitlines()]
    assert [e["action"] for e in spooled] == ["browser.budget.exceeded"]
    assert of(hub_endpoint, "browser.budget.exceeded") == []


@pytest.mark.parametrize(
    "budget_settings",
    [{"browser_bytes_day": 3 * KIB * KIB, "record_reads_above": 32 * KIB}],
    indirect=True,
)
async def test_reads_at_once_cannot_pass_the_budget_together(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    # 2 MiB each, hashed in a thread (the server answers others meanwhile): 4 MiB > 3 MiB.
    for byte, name in enumerate(("one", "two")):
        write(jp_root_dir, f"work/{name}.bin", bytes([byte]) * (2 * KIB * KIB))
    responses = await asyncio.gather(*(
        jp_fetch("api", "contents", "work", f"{name}.bin", params={"format": "base64"},
                 raise_error=False)
        for name in ("one", "two")
    ))  # fmt: skip
    assert sorted(r.code for r in responses) == [200, 403]
    await guard.sink.flush()  # an event recorded while another was sent waits in the spool
    [read] = of(hub_endpoint, "file.read")
    assert read["details"]["served"] == 2 * KIB * KIB
    [exceeded] = of(hub_endpoint, "browser.budget.exceeded")
    assert exceeded["details"]["spent"] == 2 * KIB * KIB


@pytest.mark.parametrize("budget_settings", [{"browser_bytes_day": 0}], indirect=True)
async def test_without_a_limit_nothing_is_counted(jp_fetch, guard, hub_endpoint, jp_root_dir):
    assert guard.budget is None
    write(jp_root_dir, "work/part.bin", bytes(range(256)) * 100)
    for _ in range(5):
        await jp_fetch("api", "contents", "work", "part.bin", params={"format": "base64"})
    assert hub_endpoint.events == []


# --- (c) the daily budget, on kernel outputs -----------------------------------------------

DISPLAY = """
from IPython.display import display
for i in range({n}):
    display({{"text/plain": "x" * {size}}}, raw=True)
"""


@pytest.fixture
async def kernel(jp_fetch, jp_ws_fetch, guard):
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    connection = await jp_ws_fetch("api", "kernels", kernel_id, "channels",
                                   params={"session_id": "budget-test"},
                                   subprotocols=[PROTOCOL])  # fmt: skip
    channels = KernelChannels(connection)
    warm = await channels.execute("1 + 1")
    assert warm.replied
    yield channels
    channels.close()
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")


@pytest.mark.parametrize("budget_settings", [{"browser_bytes_day": 512 * KIB,
                                              "budget_share": 64 * KIB}], indirect=True)  # fmt: skip
async def test_outputs_within_the_budget_are_sent_and_covered_by_the_record(
    kernel, guard, hub_endpoint
):
    run = await kernel.execute(DISPLAY.format(n=8, size=16 * KIB))
    assert run.replied and run.idle
    assert run.display_bytes() == 8 * 16 * KIB
    shares = of(hub_endpoint, "browser.budget.reserved")
    assert {s["details"]["channel"] for s in shares} == {"kernel outputs"}
    covered = sum(s["details"]["served"] for s in shares)
    account = guard.budget.account("alice")
    assert account.spent <= account.granted == covered, "nothing sent that is not recorded"
    assert account.spent >= run.display_bytes()


async def test_past_the_budget_outputs_stop_with_a_note_and_one_record(kernel, guard, hub_endpoint):
    run = await kernel.execute(DISPLAY.format(n=8, size=16 * KIB))  # 128 KiB, budget 64 KiB
    assert run.replied and run.idle, "short replies and the idle status still arrive"
    assert 0 < run.display_bytes() < BUDGET
    note = run.stream_text("stderr")
    assert "daily limit" in note and "Request release" in note
    await wait_for(lambda: of(hub_endpoint, "browser.budget.exceeded"))  # delivered apart
    [exceeded] = of(hub_endpoint, "browser.budget.exceeded")
    assert exceeded["details"]["channel"] == "kernel outputs"
    assert exceeded["target"] is None

    again = await kernel.execute(DISPLAY.format(n=2, size=16 * KIB))
    assert again.display_bytes() == 0
    assert "daily limit" in again.stream_text("stderr"), "each cell says why it shows nothing"
    assert len(of(hub_endpoint, "browser.budget.exceeded")) == 1, "recorded once a day"
    account = guard.budget.account("alice")
    assert account.spent <= account.granted <= BUDGET + 8 * KIB


FORGED_PARENTS = """
kernel = get_ipython().kernel
for i in range(40):
    parent = {{"msg_id": f"{{i}}-" + "A" * {size}, "session": "S" * {size},
              "msg_type": "execute_request"}}
    kernel.session.send(kernel.iopub_socket, "stream", {{"name": "stdout", "text": "y" * 4096}},
                        parent=parent)
"""


async def test_notes_carry_nothing_of_the_kernels_and_are_few(kernel, guard, hub_endpoint):
    spent = await kernel.execute(DISPLAY.format(n=8, size=16 * KIB))  # the budget is gone
    assert "daily limit" in spent.stream_text("stderr")
    # The kernel's own code answers made-up requests: each dropped message has a new parent,
    # 20 KiB long, which a note would send back uncounted.
    run = await kernel.execute(FORGED_PARENTS.format(size=20 * KIB))
    assert run.replied and run.idle
    assert run.received_bytes < 40 * KIB, "40 notes of at most a few hundred bytes"
    account = guard.budget.account("alice")
    assert account.notes == 1 + 40
    guard.budget.accounts["alice"].notes = NOTES_A_DAY  # the day's notes are used up
    quiet = await kernel.execute(DISPLAY.format(n=2, size=16 * KIB))
    assert quiet.replied and quiet.idle
    assert quiet.stream_text("stderr") == ""


async def test_files_and_outputs_share_one_budget(kernel, jp_fetch, guard, hub_endpoint,
                                                  jp_root_dir):  # fmt: skip
    run = await kernel.execute(DISPLAY.format(n=4, size=16 * KIB))  # past the 64 KiB
    assert run.display_bytes() < 4 * 16 * KIB
    spent = guard.budget.account("alice").spent
    write(jp_root_dir, "work/rest.txt", b"x" * (BUDGET - spent + 1))
    response = await jp_fetch("api", "contents", "work", "rest.txt", raise_error=False)
    assert response.code == 403
    assert len(of(hub_endpoint, "browser.budget.exceeded")) == 1


# --- the budgeted connection is the one in use, or the server does not serve ---------------


def test_kernel_websockets_use_the_budgeted_connection(jp_serverapp, guard):
    assert jp_serverapp.web_app.settings["kernel_websocket_connection_class"] is BudgetedConnection


def test_another_kernel_connection_class_stops_the_guard_from_loading(jp_serverapp, guard):
    class Elsewhere(BaseKernelWebsocketConnection):
        pass

    jp_serverapp.kernel_websocket_connection_class = Elsewhere
    with pytest.raises(RuntimeError, match="remove that setting"):
        guard._budget_kernel_outputs()


async def test_a_connection_class_swapped_after_start_stops_the_server(jp_serverapp, guard):
    stopped = []
    jp_serverapp.web_app.settings["kernel_websocket_connection_class"] = (
        ZMQChannelsWebsocketConnection
    )
    jp_serverapp.stop = lambda: stopped.append(True)
    await guard._start_jupyter_server_extension(jp_serverapp)
    assert stopped == [True]


# --- (c) the daily budget, on terminal output ----------------------------------------------


def test_the_terminal_websocket_is_the_guards(jp_serverapp, guard):
    url = url_path_join(jp_serverapp.base_url, "terminals/websocket/1")
    assert routing.handler_for(jp_serverapp.web_app, "GET", url) is BudgetedTermSocket


async def read_terminal(connection, quiet: float = 2.0) -> str:
    """Everything the terminal sends until it has been quiet for `quiet` seconds."""
    text = []
    while True:
        try:
            raw = await asyncio.wait_for(connection.read_message(), quiet)
        except TimeoutError:
            return "".join(text)
        if raw is None:
            return "".join(text)
        kind, *rest = json.loads(raw)
        if kind == "stdout":
            text.append(rest[0])


async def test_past_the_budget_terminal_output_stops_with_a_note_and_one_record(
    jp_fetch, jp_ws_fetch, guard, hub_endpoint
):
    created = await jp_fetch("api", "terminals", method="POST", body="{}")
    name = json.loads(created.body)["name"]
    connection = await jp_ws_fetch("terminals", "websocket", name)
    await read_terminal(connection, quiet=1.0)  # the prompt
    # What `cat ~/work/copy.csv` would do with a large file: 200 KB to the screen.
    command = "yes x | head -c 200000; echo\r"
    connection.write_message(json.dumps(["stdin", command]))
    shown = await read_terminal(connection)
    connection.close()
    # Counted as sent: JSON messages, "x\r\n" each; no grace for a terminal's small pieces.
    assert len(shown) > BUDGET / 2, "it flowed..."
    assert len(json.dumps(shown)) < BUDGET + 2 * KIB, "...then stopped at the budget"
    assert "daily limit" in shown and "Request release" in shown
    [exceeded] = of(hub_endpoint, "browser.budget.exceeded")
    assert (exceeded["details"]["channel"], exceeded["details"]["terminal"]) == ("terminal", name)
    shares = of(hub_endpoint, "browser.budget.reserved")
    assert {s["details"]["channel"] for s in shares} == {"terminal"}
    account = guard.budget.account("alice")
    assert account.spent <= account.granted


# --- the accounts on their own -----------------------------------------------------------


async def test_the_grace_past_the_budget_is_for_small_kernel_messages_only():
    budget = BrowserBudget(128 * KIB, chunk=64 * KIB, grace=16 * KIB)
    account, shares = budget.account("alice"), []

    async def record(share: int) -> bool:
        shares.append(share)
        return True

    assert await budget.reserve(account, 100 * KIB, record)
    account.spent = 128 * KIB - 100
    assert not budget.fits(account, 4 * KIB, kernel=True), "too large for the grace"
    assert not budget.fits(account, 1 * KIB), "a file read gets no grace"
    assert budget.fits(account, 1 * KIB, kernel=True)
    assert await budget.reserve(account, 1 * KIB, record, kernel=True)
    assert account.granted == 128 * KIB + 16 * KIB, "the grace is recorded before use too"
    assert account.sendable == 128 * KIB, "large messages never reach past the limit"
    assert sum(shares) == account.granted


async def test_a_new_day_starts_from_zero():
    now = [86_400 * 20_000 + 100.0]
    budget = BrowserBudget(128 * KIB, chunk=64 * KIB, grace=0, clock=lambda: now[0])
    budget.account("alice").spent = 128 * KIB
    now[0] += 86_400
    assert budget.account("alice").spent == 0
