"""A browser's side of a kernel websocket (JupyterLab's v1 protocol): run code, see what comes back.

`KernelChannels.execute(code)` sends an `execute_request` on the shell channel and reads
until its `execute_reply` and the kernel's `idle` status for it have arrived (or a timeout),
keeping every message and counting the bytes the server sent.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.websocket import WebSocketClientConnection

PROTOCOL = "v1.kernel.websocket.jupyter.org"


@dataclass
class Execution:
    """What one execute_request brought back."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    received_bytes: int = 0
    replied: bool = False
    idle: bool = False

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m["header"]["msg_type"] == msg_type]

    def stream_text(self, name: str = "stdout") -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream")
                       if m["content"]["name"] == name)  # fmt: skip

    def display_bytes(self) -> int:
        """Bytes of text/plain shown by display_data messages."""
        return sum(len(m["content"]["data"].get("text/plain", "")) for m in self.of_type(
            "display_data"))  # fmt: skip


class KernelChannels:
    def __init__(self, connection: WebSocketClientConnection, username: str = "alice"):
        self.connection, self.username = connection, username
        self.session = uuid.uuid4().hex

    def _send(self, channel: str, msg_type: str, content: dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": self.username, "session": self.session,
                  "msg_type": msg_type, "version": "5.3",
                  "date": datetime.now(UTC).isoformat()}  # fmt: skip
        parts = [json.dumps(part).encode() for part in (header, {}, {}, content)]
        self.connection.write_message(serialize_msg_to_ws_v1(parts, channel), binary=True)
        return msg_id

    async def execute(self, code: str, timeout: float = 60) -> Execution:
        msg_id = self._send("shell", "execute_request", {
            "code": code, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True,
        })  # fmt: skip
        result = Execution()
        deadline = time.monotonic() + timeout
        while not (result.replied and result.idle):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                raw = await asyncio.wait_for(self.connection.read_message(), left)
            except TimeoutError:
                break
            if raw is None:
                break  # closed
            result.received_bytes += len(raw)
            channel, message = self._parse(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            result.messages.append((channel, message))
            kind = message["header"]["msg_type"]
            if kind == "execute_reply":
                result.replied = True
            if kind == "status" and message["content"].get("execution_state") == "idle":
                result.idle = True
        return result

    @staticmethod
    def _parse(raw: bytes | str) -> tuple[str, dict[str, Any]]:
        if isinstance(raw, str):
            message = json.loads(raw)
            return message.get("channel", ""), message
        channel, parts = deserialize_msg_from_ws_v1(raw)
        names = ("header", "parent_header", "metadata", "content")
        return channel, {name: json.loads(part) for name, part in zip(names, parts, strict=False)}

    def close(self) -> None:
        self.connection.close()
