"""Counting what a websocket sends the browser against its person's daily budget.

A socket that streams to the browser (a kernel's channels, a terminal) writes each message
through one method; the adapters (`kernels.py`, `terminals.py`) answer it with a `Meter`.
While the hub's record already covers what is sent, within the limit (`spent + size <=
sendable`), a message costs a length, two comparisons and an addition, and goes out at
once. Otherwise it waits, in order, while the next share of the budget is recorded
(`MeteredSocket._over_share`), or, past the budget, is dropped: the socket shows a note
pointing to the airlock, and the first refusal of the day is recorded.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornado.websocket import WebSocketClosedError

from .budget import Account, BrowserBudget
from .handlers import SETTINGS_KEY, budget_message, guard_event

if TYPE_CHECKING:
    from jupyter_server.base.handlers import JupyterHandler

    from .app import DataGuardApp

UNRECORDED_NOTE = (
    "Some output was not shown: what is sent to the browser must be recorded, and the record "
    "cannot be reached. Try again in a minute; if it lasts, tell the hosting team."
)


class Meter:
    """The counting writer of one socket: the fast path every message takes.

    The day is checked on the slow path, not here: after midnight UTC at most the rest of a
    share is counted on the day before.
    """

    __slots__ = ("account", "budget", "held", "low_water", "person", "send", "socket")

    def __init__(self, socket: MeteredSocket, budget: BrowserBudget, person: str,
                 send: Callable[..., Any]):  # fmt: skip
        self.socket, self.budget, self.person, self.send = socket, budget, person, send
        self.account = budget.account(person)
        self.held: deque[tuple[Any, bool]] = deque()  # waiting, in order, for a share
        self.low_water = budget.low_water

    def __call__(self, message: Any, binary: bool = False) -> Any:
        account, size = self.account, len(message)
        if self.held or account.spent + size > account.sendable:
            return self.socket._over_share(message, binary, size)
        account.spent += size
        if account.granted - account.spent < self.low_water and account.reserving is None:
            self.budget.prefetch(account, self.socket._reserve)
        return self.send(message, binary=binary)


class MeteredSocket:
    """The slow path and the records, for a socket adapter that provides the hooks below."""

    meter_route = ""  # the route named in events
    meter_channel = ""  # `details.channel`: "kernel outputs", "terminal"
    meter_grace = True  # small messages may use the grace past the budget
    _meter: Meter | None = None

    # -- hooks -------------------------------------------------------------------------------

    def _metered_handler(self) -> JupyterHandler:
        """The request handler of the socket: its user, settings and request."""
        raise NotImplementedError

    def _meter_details(self) -> dict[str, Any]:
        """What the budget's events say about the socket (a kernel, a terminal)."""
        return {}

    def _unmetered_send(self) -> Callable[..., Any]:
        """The socket's own write, for what may go out."""
        raise NotImplementedError

    def _note(self, text: str, dropped: Any) -> None:
        """Tell the person why `dropped` (a message) was not sent (not counted: it is ours)."""
        raise NotImplementedError

    # -- the meter ---------------------------------------------------------------------------

    def _metered_write(self) -> Callable[..., Any]:
        """The writer to use: the meter when the guard has a budget, else the socket's own."""
        if self._meter is not None:
            return self._meter
        guard = self._guard()
        budget = guard.budget if guard is not None else None
        if budget is None:
            return self._unmetered_send()
        person = self._metered_handler().current_user.username
        self._meter = Meter(self, budget, person, self._unmetered_send())
        return self._meter

    def _guard(self) -> DataGuardApp | None:
        return self._metered_handler().settings.get(SETTINGS_KEY)

    def _over_share(self, message: Any, binary: bool, size: int) -> Any:
        """Past what the record covers: wait for the next share, or refuse past the budget."""
        meter = self._meter
        assert meter is not None
        if meter.held:
            meter.held.append((message, binary))
            return None
        budget = meter.budget
        account = meter.account = budget.account(meter.person)  # a new day, maybe
        if not budget.fits(account, size, kernel=self.meter_grace):
            self._refuse(account, message, size)
            return None
        if account.spent + size <= account.granted:  # within the limit, or small in the grace
            account.spent += size
            return meter.send(message, binary=binary)
        meter.held.append((message, binary))
        asyncio.ensure_future(self._wait_for_share(account, size))
        return None

    async def _wait_for_share(self, account: Account, size: int) -> None:
        meter = self._meter
        assert meter is not None
        recorded = await meter.budget.reserve(account, size, self._reserve,
                                              kernel=self.meter_grace)  # fmt: skip
        held, meter.held = meter.held, deque()
        if not recorded:
            if held:
                self._note(UNRECORDED_NOTE, held[0][0])
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
        """Record a share of the budget for this socket's person."""
        guard, meter = self._guard(), self._meter
        if guard is None or guard.sink is None or meter is None:
            return False
        event = guard_event(self._metered_handler(), self.meter_route,
                            "browser.budget.reserved", None, "allowed",
                            "budget taken before sending", channel=self.meter_channel,
                            **self._meter_details(), bytes=share, served=share,
                            spent=meter.account.spent, budget=meter.budget.limit)  # fmt: skip
        return await guard.sink.record(event)

    def _refuse(self, account: Account, message: Any, size: int) -> None:
        """Drop `message`, say why, and record the first refusal of the day."""
        budget = self._meter.budget  # type: ignore[union-attr]
        self._note(budget_message(budget.limit), message)
        if budget.refusal_to_record(account):
            asyncio.ensure_future(self._record_refusal(account, size))

    async def _record_refusal(self, account: Account, size: int) -> None:
        guard, budget = self._guard(), self._meter.budget  # type: ignore[union-attr]
        if guard is None or guard.sink is None:
            budget.refusal_unrecorded(account)
            return
        event = guard_event(self._metered_handler(), self.meter_route,
                            "browser.budget.exceeded", None, "refused",
                            "the daily browser budget is reached", channel=self.meter_channel,
                            **self._meter_details(), refused=size, spent=account.spent,
                            budget=budget.limit)  # fmt: skip
        if not await guard.sink.record(event):
            budget.refusal_unrecorded(account)  # the next refusal tries again
