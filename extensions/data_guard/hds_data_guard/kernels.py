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

from .budget import DAY, Account, BrowserBudget
from .handlers import SETTINGS_KEY, budget_message, guard_event

if TYPE_CHECKING:
    from .app import DataGuardApp

ROUTE = "/api/kernels"
V1 = "v1.kernel.websocket.jupyter.org"  # the protocol JupyterLab speaks
UNRECORDED_NOTE = (
    "Some output was not shown: what is sent to the browser must be recorded, and the record "
    "cannot be reached. Run the cell again in a minute; if it lasts, tell the hosting team."
)


class BudgetedConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection, sending only within the reader's budget."""

    _budget: BrowserBudget | None = None
    _person = ""
    _account: Account | None = None
    _held: deque[tuple[Any, bool]]
    _noted: tuple[int, str] | None = None  # (day, request) the refusal note last answered

    @property
    def write_message(self):
        """Where every message to the browser goes: through the budget when there is one."""
        if self._budget is None:
            guard = self._guard()
            budget = guard.budget if guard is not None else None
            if budget is None:
                return self.websocket_handler.write_message
            self._budget, self._person = budget, self.websocket_handler.current_user.username
            self._held = deque()
        return self._write

    def _guard(self) -> DataGuardApp | None:
        return self.websocket_handler.settings.get(SETTINGS_KEY)

    def _write(self, message: Any, binary: bool = False) -> Any:
        budget, size = self._budget, len(message)
        assert budget is not None
        account = self._account
        if account is None or account.day != int(budget.clock()) // DAY:
            account = self._account = budget.account(self._person)
        if self._held:
            self._held.append((message, binary))
            return None
        if account.spent + size <= account.granted:
            account.spent += size
            if account.granted - account.spent < budget.low_water:
                budget.prefetch(account, self._reserve)
            return self.websocket_handler.write_message(message, binary=binary)
        if not budget.fits(account, size, kernel=True):
            self._refuse(account, message, size)
            return None
        self._held.append((message, binary))
        asyncio.ensure_future(self._wait_for_share(account, size))
        return None

    async def _wait_for_share(self, account: Account, size: int) -> None:
        recorded = await self._budget.reserve(account, size, self._reserve)  # type: ignore[union-attr]
        held, self._held = self._held, deque()
        if not recorded:
            if held:
                self._note(UNRECORDED_NOTE, self._parent_header(held[0][0]))
            return
        while held:
            message, binary = held.popleft()
            try:
                self._write(message, binary)
            except WebSocketClosedError:
                return
            if self._held:  # waiting again: the rest keeps its place behind
                self._held.extend(held)
                return

    async def _reserve(self, share: int) -> bool:
        """Record a share of the budget for this connection's person."""
        guard, account = self._guard(), self._account
        if guard is None or guard.sink is None or account is None:
            return False
        event = guard_event(self.websocket_handler, ROUTE, "browser.budget.reserved", None,
                            "allowed", "budget taken before sending", channel="kernel outputs",
                            kernel=self.kernel_id, bytes=share, served=share,
                            spent=account.spent, budget=self._budget.limit)  # type: ignore[union-attr]  # fmt: skip
        return await guard.sink.record(event)

    def _refuse(self, account: Account, message: Any, size: int) -> None:
        """Drop `message`; say why once under each cell that loses output."""
        budget = self._budget
        assert budget is not None
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
                            spent=account.spent, budget=self._budget.limit)  # type: ignore[union-attr]  # fmt: skip
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
