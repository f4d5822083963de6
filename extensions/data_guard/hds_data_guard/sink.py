"""Where data-guard events go: one JSON line in the server log, then the hub's audit record.

Contract (docs/data-guard.md): POST `{"events": [...]}` to the hub's `/hds/audit/events`
with the server's own token; the hub answers `{"accepted": [ids]}`.

An event goes to the hub at once, before the guarded request is answered. While the hub
cannot take it (down, restarting, busy), it waits in this process's memory, in order, with a
durable copy in the spool, and is replayed from memory. Memory is the queue because the
spool's folder is writable by the researcher's code (same uid), this process's memory is not
(the server is non-dumpable). Each event carries this process's stream id and its number in
the stream (`details.stream`, `details.serial`): the hub records a gap when numbers go missing.
`record` says whether the event is recorded (accepted by the hub, or spooled): a guarded
read whose event is not is refused; a spool that cannot be written is itself an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sys
import uuid
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from hds_records.events import Event

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
    """Record events: log line, the hub at once, else memory and spool until the hub is back."""

    def __init__(
        self,
        spool: EventSpool | None,
        url: str,
        token: str,
        *,
        log: logging.Logger,
        project: str | None = None,
        batch_size: int = 100,
        max_delay: float = 60.0,
        timeout: float = 5.0,
        max_pending: int = 10_000,
    ):
        self.spool = spool if url else None
        self.url, self.token, self.log, self.project = url, token, log, project or None
        self.batch_size, self.max_delay, self.timeout = batch_size, max_delay, timeout
        self.max_pending = max_pending
        self.events_log = event_logger()
        self.stream = uuid.uuid4().hex  # this process's events: numbered 1, 2, 3, ...
        self._serials = itertools.count(1)
        self.pending: deque[dict[str, Any]] = deque()  # not yet answered by the hub, in order
        self.failure: str | None = None  # why events cannot be kept, while they cannot
        self._task: asyncio.Task | None = None
        self._sending = asyncio.Lock()  # one sender at a time keeps the order

    def number(self, event: Event) -> dict[str, Any]:
        """The event's report, numbered in this process's stream."""
        details = {**event.details, "stream": self.stream, "serial": next(self._serials)}
        return replace(event, details=details).to_dict()

    async def record(self, event: Event, instead: Event | None = None) -> bool:
        """Log `event`, deliver it; True once the hub has it or it is spooled for the hub.

        When it is neither, the caller refuses the action, and `instead` (the refusal's
        event) takes its place and number in the queue: the hub then learns of the attempt
        as it ended, not of an action that did not happen.
        """
        report = self.number(event)
        self.events_log.info(json.dumps(report, sort_keys=True))
        if not self.url:
            return True  # no hub (a server outside JupyterHub): the log line is the record
        if not self.pending and not self._sending.locked():
            async with self._sending:
                delivery = await self.post([report])
            if not delivery.retry:
                self._answered([report], delivery)
                self.failure = None  # a later failure to keep events is a new one to report
                return True
        kept = self._keep(report)
        if not kept and instead is not None:
            self._replace(report, instead)
        return kept

    def _replace(self, report: dict[str, Any], instead: Event) -> None:
        """Put `instead` in the queue where `report` was, with its number."""
        number = {"stream": report["details"]["stream"], "serial": report["details"]["serial"]}
        replacement = replace(instead, details={**instead.details, **number}).to_dict()
        self.events_log.info(json.dumps(replacement, sort_keys=True))
        for position, queued in enumerate(self.pending):
            if queued["id"] == report["id"]:
                self.pending[position] = replacement
                return
        self._queue(replacement)  # the original was dropped (queue full): its number is reused

    def _keep(self, report: dict[str, Any]) -> bool:
        """Queue `report` for replay and spool it; False when it could not be spooled."""
        if len(self.pending) >= self.max_pending:
            # Its number is lost with it: the hub sees the gap when the next one arrives.
            self.log.error("data guard: %d events wait for the hub; %s %s dropped",
                           len(self.pending), report["action"], report["id"])  # fmt: skip
            self._failed(f"{len(self.pending)} events wait for the hub: events dropped", report)
            return False
        self._queue(report)
        spooled = self._spool(report)
        self.kick()
        return spooled

    def _queue(self, report: dict[str, Any]) -> None:
        """Add to the queue in number order (a delivery that failed may come back late)."""
        position = len(self.pending)
        while position and _later(self.pending[position - 1], report):
            position -= 1
        self.pending.insert(position, report)

    def _spool(self, report: dict[str, Any]) -> bool:
        if self.spool is None:
            return False
        try:
            self.spool.append([report])
        except OSError as error:
            self.log.error("data guard: cannot spool events for the hub in %s: %s; guarded "
                           "reads are refused until the hub or the spool takes them",
                           self.spool.path, error)  # fmt: skip
            self._failed(str(error), report)
            return False
        self.failure = None
        return True

    def _failed(self, error: str, report: dict[str, Any]) -> None:
        """The first failure of a run of them becomes an event for the hub (kept in memory,
        even past `max_pending`): the hub learns that events could not be kept."""
        if self.failure is not None:
            return
        self.failure = error
        failure = self.number(
            Event(
                "guard.spool.failed",
                actor=report["actor"],
                outcome="failed",
                project=self.project,
                target=str(self.spool.path) if self.spool else None,
                details={"error": error, "waiting": len(self.pending), "event": report["id"]},
            )
        )
        self.events_log.info(json.dumps(failure, sort_keys=True))
        self._queue(failure)
        self.kick()

    def start(self) -> None:
        """Take up what a previous server left in the spool, then deliver."""
        if self.spool is not None:
            leftovers = self.spool.load()
            self.pending.extendleft(reversed(leftovers))
            if leftovers:
                self.log.info("data guard: %d event(s) left by a previous server will be "
                              "replayed", len(leftovers))  # fmt: skip
        self.kick()

    def kick(self) -> None:
        """Start the background delivery unless it is already running or has nothing to do."""
        if not self.url or not self.pending or (self._task and not self._task.done()):
            return
        self._task = asyncio.ensure_future(self._deliver_until_empty())

    async def _deliver_until_empty(self) -> None:
        delay = min(1.0, self.max_delay)
        while not await self.flush():
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)

    async def flush(self) -> bool:
        """Send every waiting event, oldest first; True when none is left."""
        async with self._sending:
            while self.pending:
                batch = list(itertools.islice(self.pending, self.batch_size))
                delivery = await self.post(batch)
                if delivery.retry:
                    self.log.warning("data guard: hub audit endpoint unavailable (%s); %d "
                                     "event(s) kept for replay", delivery.error,
                                     len(self.pending))  # fmt: skip
                    return False
                for _ in batch:
                    self.pending.popleft()
                self._answered(batch, delivery)
            if self.spool is not None:
                self.spool.clear()
            self.failure = None
            return True

    def _answered(self, batch: list[dict[str, Any]], delivery: Delivery) -> None:
        """The hub answered: what it did not accept is kept aside, never retried."""
        refused = [e for e in batch if e["id"] not in delivery.accepted]
        if not refused:
            return
        reason = delivery.error or "not accepted by the hub"
        where = self.spool.rejected_path if self.spool else "the server log"
        self.log.error("data guard: the hub refused %d event(s) (%s); kept in %s",
                       len(refused), reason, where)  # fmt: skip
        if self.spool is not None:
            self.spool.reject(refused, reason)

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
        """Stop background delivery after one last attempt to deliver what waits."""
        if self._task:
            self._task.cancel()
        if self.url and self.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), timeout)
            if self.pending:
                where = self.spool.path if self.spool else "the server log"
                self.log.warning("data guard: %d event(s) not delivered to the hub; their copy "
                                 "is in %s", len(self.pending), where)  # fmt: skip


def _later(queued: dict[str, Any], report: dict[str, Any]) -> bool:
    """Whether `queued` comes after `report` in this process's stream."""
    mine, theirs = report["details"], queued.get("details") or {}
    return theirs.get("stream") == mine["stream"] and theirs.get("serial", 0) > mine["serial"]


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
