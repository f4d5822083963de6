"""Where data-guard events go: one JSON line in the server log, then the hub's audit record.

Contract (docs/data-guard.md): POST `{"events": [...]}` to the hub's `/hds/audit/events`
with the server's own token; the hub answers `{"accepted": [ids]}`. Until it does,
events wait in the spool and are replayed in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .spool import EventSpool

# Answers that mean "not now": the endpoint is missing (hub being upgraded), busy or down.
RETRY_STATUSES = {404, 408, 429}


def event_logger() -> logging.Logger:
    """The logger that writes each event as one bare JSON line on stderr (the container log)."""
    logger = logging.getLogger("hds_data_guard.events")
    if not any(getattr(h, "hds_events", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.hds_events = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


@dataclass
class Delivery:
    """What one POST to the hub achieved."""

    accepted: set[str]
    retry: bool = False
    error: str = ""


class AuditSink:
    """Record events: log line first, then spool, then deliver to the hub in the background."""

    def __init__(
        self,
        spool: EventSpool | None,
        url: str,
        token: str,
        *,
        log: logging.Logger,
        batch_size: int = 100,
        max_delay: float = 60.0,
        timeout: float = 10.0,
    ):
        self.spool = spool if url else None
        self.url = url
        self.token = token
        self.log = log
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.timeout = timeout
        self.events_log = event_logger()
        self._task: asyncio.Task | None = None
        self._sending = asyncio.Lock()  # one sender at a time keeps the order

    def record(self, event: dict[str, Any]) -> None:
        """Write `event` to the log and the spool, and make sure delivery is under way.

        A spool that cannot be written (full /tmp) costs the hub copy, never the log line
        nor the refusal itself.
        """
        self.events_log.info(json.dumps(event, sort_keys=True))
        if self.spool is None:
            return
        try:
            self.spool.append(event)
        except OSError as error:
            self.log.error("data guard: cannot spool event %s for the hub: %s", event["id"], error)
            return
        self.kick()

    def kick(self) -> None:
        """Start the background delivery unless it is already running."""
        if self.spool is None or (self._task and not self._task.done()):
            return
        self._task = asyncio.ensure_future(self._deliver_until_empty())

    async def _deliver_until_empty(self) -> None:
        delay = min(1.0, self.max_delay)
        while True:
            sent = await self.flush()
            if sent:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)

    async def flush(self) -> bool:
        """Send every spooled event, oldest first; True when the spool is empty."""
        if self.spool is None:
            return True
        async with self._sending:
            return await self._send_all(self.spool)

    async def _send_all(self, spool: EventSpool) -> bool:
        while batch := spool.head(self.batch_size):
            result = await self.post(batch)
            if result.retry:
                self.log.warning("data guard: hub audit endpoint unavailable (%s); a batch of "
                                 "%d event(s), and any after it, kept for replay", result.error,
                                 len(batch))  # fmt: skip
                return False
            # Answered: every event of the batch leaves the queue, accepted or refused.
            refused = [e for e in batch if e["id"] not in result.accepted]
            reason = result.error or "not accepted by the hub"
            if refused:
                self.log.error("data guard: the hub refused %d event(s) (%s); kept in %s",
                               len(refused), reason, spool.rejected_path)  # fmt: skip
            spool.drop_head(len(batch), refused, reason)
        return True

    async def post(self, events: list[dict[str, Any]]) -> Delivery:
        request = HTTPRequest(
            self.url,
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            body=json.dumps({"events": events}),
            request_timeout=self.timeout,
            connect_timeout=self.timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as error:
            status = error.code
            body = error.response.body.decode(errors="replace")[:500] if error.response else ""
            message = f"HTTP {status} {body}".strip()
            return Delivery(set(), retry=status >= 500 or status in RETRY_STATUSES, error=message)
        except (TimeoutError, OSError) as error:
            return Delivery(set(), retry=True, error=f"{type(error).__name__}: {error}")
        return _accepted(response.body, events)

    async def close(self, timeout: float = 5.0) -> None:
        """Stop background delivery after one last attempt to empty the spool."""
        if self._task:
            self._task.cancel()
        if self.spool is not None and len(self.spool):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), timeout)
            if len(self.spool):
                self.log.warning("data guard: %d event(s) not delivered to the hub remain in %s",
                                 len(self.spool), self.spool.path)  # fmt: skip


def _accepted(body: bytes, events: list[dict[str, Any]]) -> Delivery:
    """Read the hub's `{"accepted": [ids]}`; anything else is an answer to retry later."""
    try:
        accepted = json.loads(body)["accepted"]
        if not isinstance(accepted, list):
            raise TypeError("accepted is not a list")
    except (ValueError, KeyError, TypeError) as error:
        return Delivery(set(), retry=True, error=f"unexpected answer from the hub: {error}")
    sent = {e["id"] for e in events}
    return Delivery({i for i in accepted if i in sent})
