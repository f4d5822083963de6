"""How much one user's server may report to the hub's intake: a rate, and a volume per day.

A server's reports cost the hub time (on its event loop) and disk (the record and the hub
database share it). A server flooding the intake, with the data guard's token that every
kernel can read, is refused with 429 past either limit; the refusal is recorded once per
`report_every` seconds and per limit, with the number of requests refused since, never once
per request. The data guard keeps what is refused and retries later (docs/data-guard.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable


class AuditIntake(LoggingConfigurable):
    """Limits of the hub's intake of users' servers' reports (POST /hub/api/hds/audit/events)."""

    server_rate = Float(
        20.0,
        help="""Events per second a user's server may report, on average. The data guard
        sends one event per refused or audited request, and batches of 100 when it replays.""",
    ).tag(config=True)

    server_burst = Integer(
        2000,
        help="""Events a user's server may report at once above its rate (a replay after an
        outage). At least the largest batch the intake takes (500).""",
    ).tag(config=True)

    server_daily_bytes = Integer(
        64 * 1024 * 1024,
        help="Bytes of reports a user's server may send per day (UTC), about 150,000 events.",
    ).tag(config=True)

    report_every = Float(
        600.0,
        help="Seconds between two audit.report.limited entries for one server and one limit.",
    ).tag(config=True)

    def limits(self) -> IntakeLimits:
        return IntakeLimits(
            self.server_rate, self.server_burst, self.server_daily_bytes, self.report_every
        )


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go on; if not, which limit, whether to record that, and when to
    come back (seconds)."""

    allowed: bool
    limit: str = ""
    record: bool = False
    refused_since: int = 0
    retry_after: float = 0.0


@dataclass
class _Budget:
    tokens: float
    checked: float
    day: str
    day_bytes: int = 0
    refused: int = 0  # requests refused since the last recorded refusal
    recorded: dict[str, float] = field(default_factory=dict)  # limit -> when last recorded


class IntakeLimits:
    """Per-server token bucket (events) and daily byte count, in the hub's memory."""

    def __init__(self, rate: float, burst: int, daily_bytes: int, report_every: float = 600.0):
        if rate <= 0 or burst <= 0 or daily_bytes <= 0:
            raise ValueError("AuditIntake limits must be positive numbers")
        self.rate, self.burst, self.daily_bytes = rate, burst, daily_bytes
        self.report_every = report_every
        self._budgets: dict[str, _Budget] = {}

    def gate(self, server: str, size: int, now: float | None = None, day: str = "") -> Verdict:
        """Before a request's body is read: may `server` send anything now? Counts nothing."""
        return self._check(server, 1, size, now, day, count=False)

    def admit(
        self, server: str, events: int, size: int, now: float | None = None, day: str = ""
    ) -> Verdict:
        """May `server` report `events` events in `size` bytes now? Counts them if so."""
        return self._check(server, events, size, now, day, count=True)

    def _check(
        self, server: str, events: int, size: int, now: float | None, day: str, count: bool
    ) -> Verdict:
        now = time.monotonic() if now is None else now
        day = day or datetime.now(UTC).strftime("%Y-%m-%d")
        budget = self._budget(server, now, day)
        if budget.day_bytes + size > self.daily_bytes:
            return self._refuse(budget, "daily", now, _seconds_to_midnight())
        if events > budget.tokens:
            return self._refuse(budget, "rate", now, (events - budget.tokens) / self.rate)
        if count:
            budget.tokens -= events
            budget.day_bytes += size
        return Verdict(True)

    def _budget(self, server: str, now: float, day: str) -> _Budget:
        budget = self._budgets.get(server)
        if budget is None:
            budget = self._budgets[server] = _Budget(float(self.burst), now, day)
        budget.tokens = min(self.burst, budget.tokens + (now - budget.checked) * self.rate)
        budget.checked = now
        if budget.day != day:
            budget.day, budget.day_bytes = day, 0
        return budget

    def _refuse(self, budget: _Budget, limit: str, now: float, retry_after: float) -> Verdict:
        budget.refused += 1
        last = budget.recorded.get(limit)
        record = last is None or now - last >= self.report_every
        refused = budget.refused
        if record:
            budget.recorded[limit] = now
            budget.refused = 0
        return Verdict(False, limit, record, refused, max(1.0, retry_after))


def _seconds_to_midnight() -> float:
    moment = datetime.now(UTC)
    return 86400.0 - (moment.hour * 3600 + moment.minute * 60 + moment.second)
