"""Terminal output counts against the daily browser budget, as kernel outputs do.

`cat ~/work/copy.csv` in JupyterLab's terminal sends the file to the browser as terminal
output: every message of a terminal's websocket leaves through `TermSocket.write_message`
(jupyter_server_terminals), which `BudgetedTermSocket` answers with the guard's meter
(`meter.py`). Past the budget the terminal shows one note and stays silent until midnight
UTC: a terminal's output comes in small pieces, so the grace kernels get does not apply.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server_terminals.handlers import TermSocket
from tornado import web
from tornado.websocket import WebSocketClosedError

from .meter import MeteredSocket

PATTERN = r"/terminals/websocket/(\w+)"  # jupyter_server_terminals' own route
EXTENSION = "jupyter_server_terminals"


def route() -> tuple[str, type, dict[str, Any]]:
    """The guard's handler on the terminals' route, speaking for their extension."""
    return (PATTERN, BudgetedTermSocket, {"name": EXTENSION})


class BudgetedTermSocket(MeteredSocket, TermSocket):
    """jupyter_server_terminals' terminal websocket, sending only within the reader's budget."""

    meter_route = "/terminals/websocket"
    meter_channel = "terminal"
    meter_grace = False  # a terminal's output comes in small pieces: no grace past the budget
    _noted_day: int | None = None

    def initialize(self, name: str, term_manager: Any = None, **kwargs: Any) -> None:
        """Registered by the guard, which loads before the terminals' extension made its
        manager: the manager is taken from the server's settings at each connection."""
        manager = term_manager or self.settings.get("terminal_manager")
        if manager is None:
            raise web.HTTPError(404, "terminals are not enabled on this server")
        super().initialize(name, manager, **kwargs)

    def write_message(self, message: Any, binary: bool = False) -> Any:  # type: ignore[override]
        return self._metered_write()(message, binary)

    def _metered_handler(self) -> JupyterHandler:
        return self

    def _meter_details(self) -> dict[str, Any]:
        return {"terminal": getattr(self, "term_name", None)}

    def _unmetered_send(self) -> Callable[..., Any]:
        return super().write_message

    def _note(self, text: str, dropped: Any) -> None:
        """Write `text` in the terminal, once a day for this connection."""
        day = self._meter.account.day if self._meter is not None else 0
        if self._noted_day == day:
            return
        self._noted_day = day
        with contextlib.suppress(WebSocketClosedError):
            TermSocket.write_message(self, json.dumps(["stdout", f"\r\n{text}\r\n"]))
