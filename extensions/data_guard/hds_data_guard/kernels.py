"""Kernel outputs count against the daily browser budget: the kernel websocket, byte by byte.

Every message jupyter_server sends a browser on a kernel's websocket (outputs on iopub,
replies on shell and control, the server's own status notes) leaves through one method,
`ZMQChannelsWebsocketConnection.write_message`. `BudgetedConnection` answers it with a
counting writer: the length of the serialized message is added to the person's account and
the message goes out at once while the record already covers it (the common case: two
comparisons). Otherwise it waits, in order, while the next share of the budget is recorded,
or, past the budget, is dropped; the notebook then shows one note that points to the airlock,
and the first refusal of the day is recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING, Any

from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError

from .budget import Account, BrowserBudget
from .handlers import SETTINGS_KEY, budget_message, guard_event

if TYPE_CHECKING:
    from .app import DataGuardApp

ROUTE = "/api/kernels"
V1 = "v1.kernel.websocket.jupyter.org"  # the protocol JupyterLab speaks
UNRECORDED_NOTE = (
    "Some output was not shown: what is sent to the browser must be recorded, and the record "
    "cannot be reached. Run the cell again in a minute; if it lasts, tell the hosting team."
)


class Meter:
    """The counting writer of one connection: the fast path every message takes.

    While the record covers what is sent (`spent + size <= granted`) a message costs a length,
    two comparisons and an addition; anything else goes to the connection's slow path. The
    day is checked there, not here: after midnight UTC at most the rest of a share is counted
    on the day before.
    """

    __slots__ = ("account", "budget", "connection", "held", "low_water", "person", "send")

    def __init__(self, connection: BudgetedConnection, budget: BrowserBudget, person: str):
        self.connection, self.budget, self.person = connection, budget, person
        self.account = budget.account(person)
        self.send = connection.websocket_handler.write_message
        self.held: deque[tuple[Any, bool]] = deque()  # waiting, in order, for a share
        self.low_water = budget.low_water

    def __call__(self, message: Any, binary: bool = False) -> Any:
        account, size = self.account, len(message)
        if self.held or account.spent + size > account.granted:
            return self.connection._over_share(message, binary, size)
        account.spent += size
        if account.granted - account.spent < self.low_water and account.reserving is None:
            self.budget.prefetch(account, self.connection._reserve)
        return self.send(message, binary=binary)


class BudgetedConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection, sending only within the reader's budget."""

    _meter: Meter | None = None
    _noted: tuple[int, str] | None = None  # (day, request) the refusal note last answered

    @property
    def write_message(self):
        """Where every message to the browser goes: through the budget when there is one."""
        if self._meter is not None:
            return self._meter
        guard = self._guard()
        budget = guard.budget if guard is not None else None
        if budget is None:
            return self.websocket_handler.write_message
        self._meter = Meter(self, budget, self.websocket_handler.current_user.username)
        return self._meter

    def _guard(self) -> DataGuardApp | None:
        return self.websocket_handler.settings.get(SETTINGS_KEY)

    def _over_share(self, message: Any, binary: bool, size: int) -> Any:
        """Past what the record covers: wait for the next share, or refuse past the budget."""
        meter = self._meter
        assert meter is not None
        if meter.held:
            meter.held.append((message, binary))
            return None
        budget = meter.budget
        account = meter.account = budget.account(meter.person)  # a new day, maybe
        if account.spent + size <= account.granted:
            return meter(message, binary)
        if not budget.fits(account, size, kernel=True):
            self._refuse(account, message, size)
            return None
        meter.held.append((message, binary))
        asyncio.ensure_future(self._wait_for_share(account, size))
        return None

    async def _wait_for_share(self, account: Account, size: int) -> None:
        meter = self._meter
        assert meter is not None
        recorded = await meter.budget.reserve(account, size, self._reserve)
        held, meter.held = meter.held, deque()
        if not recorded:
            if held:
                self._note(UNRECORDED_NOTE, self._parent_header(held[0][0]))
            return
        while held:
            message, binary = held.popleft()
            try:
                meter(message, binary)
            except WebSocketClosedError:
                return
            if meter.held:  # waiting again: the rest keeps its place behind
                meter.held.extend(held)
                return

    async def _reserve(self, share: int) -> bool:
        """Record a share of the budget for this connection's person."""
        guard, meter = self._guard(), self._meter
        if guard is None or guard.sink is None or meter is None:
            return False
        event = guard_event(self.websocket_handler, ROUTE, "browser.budget.reserved", None,
                            "allowed", "budget taken before sending", channel="kernel outputs",
                            kernel=self.kernel_id, bytes=share, served=share,
                            spent=meter.account.spent, budget=meter.budget.limit)  # fmt: skip
        return await guard.sink.record(event)

    def _refuse(self, account: Account, message: Any, size: int) -> None:
        """Drop `message`; say why once under each cell that loses output."""
        budget = self._meter.budget  # type: ignore[union-attr]
        parent = self._parent_header(message)
        request = (account.day, str(parent.get("msg_id", "")))
        if self._noted != request:
            self._noted = request
            self._note(budget_message(budget.limit), parent)
        if budget.refusal_to_record(account):
            asyncio.ensure_future(self._record_refusal(account, size))

    async def _record_refusal(self, account: Account, size: int) -> None:
        guard = self._guard()
        if guard is None or guard.sink is None:
            return
        event = guard_event(self.websocket_handler, ROUTE, "browser.budget.exceeded", None,
                            "refused", "the daily browser budget is reached",
                            channel="kernel outputs", kernel=self.kernel_id, refused=size,
                            spent=account.spent, budget=self._meter.budget.limit)  # type: ignore[union-attr]  # fmt: skip
        await guard.sink.record(event)

    def _note(self, text: str, parent: dict[str, Any]) -> None:
        """Show `text` under the cell of request `parent` (not counted: it is ours)."""
        note = self.session.msg("stream", content={"name": "stderr", "text": f"\n{text}\n"},
                                parent=parent)  # fmt: skip
        write = self.websocket_handler.write_message
        try:
            if self.subprotocol == V1:
                write(serialize_msg_to_ws_v1(note, "iopub", self.session.pack), binary=True)
            else:
                note["channel"] = "iopub"
                write(json.dumps(note, default=str))
        except WebSocketClosedError:
            pass

    def _parent_header(self, message: Any) -> dict[str, Any]:
        """The header of the request `message` answers, so the note shows under its cell."""
        try:
            if isinstance(message, bytes) and self.subprotocol == V1:
                _, parts = deserialize_msg_from_ws_v1(message)  # header, parent header, ...
                return self.session.unpack(parts[1])
            if isinstance(message, str):
                return json.loads(message).get("parent_header") or {}
        except (ValueError, IndexError, TypeError):
            pass
        return {}
