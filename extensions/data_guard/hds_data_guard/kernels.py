"""Kernel outputs count against the daily browser budget: the kernel websocket, byte by byte.

Every message jupyter_server sends a browser on a kernel's websocket (outputs on iopub,
replies on shell and control, the server's own status notes) leaves through one method,
`ZMQChannelsWebsocketConnection.write_message`. `BudgetedConnection` answers it with the
guard's meter (`meter.py`), which counts the serialized message's length. A cell that loses
output past the budget shows one note under it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError

from .meter import MeteredSocket

V1 = "v1.kernel.websocket.jupyter.org"  # the protocol JupyterLab speaks
# A note answers the dropped message's request: these fields of its parent header, cut short
# (the kernel writes them, and a note is not counted: it must carry nothing else of theirs).
PARENT_FIELDS = ("msg_id", "session", "msg_type")
ID_CHARS = 64


class BudgetedConnection(MeteredSocket, ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection, sending only within the reader's budget."""

    meter_route = "/api/kernels"
    meter_channel = "kernel outputs"
    _noted: tuple[int, str] | None = None  # (day, request) the refusal note last answered

    @property
    def write_message(self):
        """Where every message to the browser goes: through the budget when there is one."""
        return self._metered_write()

    def _metered_handler(self) -> JupyterHandler:
        return self.websocket_handler

    def _meter_details(self) -> dict[str, Any]:
        return {"kernel": self.kernel_id}

    def _unmetered_send(self) -> Callable[..., Any]:
        return self.websocket_handler.write_message

    def _note(self, text: str, dropped: Any) -> None:
        """Show `text` once under the cell whose output was dropped."""
        header = self._parent_header(dropped)
        parent = {k: str(header[k])[:ID_CHARS] for k in PARENT_FIELDS if k in header}
        meter = self._meter
        day = meter.account.day if meter is not None else 0
        request = (day, parent.get("msg_id", ""))
        if self._noted == request:
            return
        self._noted = request
        if meter is not None and not meter.budget.note_allowed(meter.account):
            return
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
                header = self.session.unpack(parts[1])
            elif isinstance(message, str):
                header = json.loads(message).get("parent_header")
            else:
                return {}
        except (ValueError, IndexError, TypeError, AttributeError):
            return {}
        return header if isinstance(header, dict) else {}
