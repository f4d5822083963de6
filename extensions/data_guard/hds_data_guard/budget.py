"""Each person's daily budget of bytes sent to their browser: file contents and kernel outputs.

The rule: nothing is sent to a person's browser that the hub's record does not already cover.
Bytes are counted per person and per UTC day (`Account.spent`); what the record covers is
`Account.granted`, raised only once its event is recorded: a read recorded on its own
(`file.read`, `dataset.read`, carrying `served`), or a share of the budget taken ahead for
small reads and kernel outputs (`browser.budget.reserved`, `chunk` bytes at a time). So a
server killed by the researcher's code loses nothing the hub has not counted, and the hub
can tell a new server how much each person was already sent today (`Served`).

Past `limit` nothing more is sent that day, except kernel messages of at most `SMALL` bytes
(the kernel's busy/idle state, short replies) within `grace` more bytes, so that the
notebook can show why its outputs stopped. Reaching the limit is recorded once a day per
person (`Account.refusal_recorded`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

DAY = 86_400
EPOCH = date(1970, 1, 1)
# Kernel messages up to this size may use the grace past the limit (status, short replies).
SMALL = 2048
MIN_SHARE = 64 * 1024
# Notes (why output stopped) a person is shown a day: a note is not counted, so they are few.
NOTES_A_DAY = 100


def day_number(day: date) -> int:
    """Days since 1970-01-01: what `int(time.time()) // DAY` gives for that UTC day."""
    return (day - EPOCH).days


@dataclass(frozen=True)
class Served:
    """What the hub's record says each person was sent today, for a server starting now."""

    day: int = -1
    served: Mapping[str, int] = field(default_factory=dict)
    exceeded: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, value: Mapping[str, Any]) -> Served:
        """From the hub's JSON (`$HDS_BROWSER_SERVED`): {"day": "YYYY-MM-DD", "served":
        {person: bytes}, "exceeded": [person, ...]}; ValueError says what is wrong."""
        if not value:
            return cls()
        try:
            day = day_number(date.fromisoformat(value["day"]))
            served = {str(k): max(int(v), 0) for k, v in dict(value.get("served", {})).items()}
            exceeded = frozenset(str(p) for p in value.get("exceeded", []))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"served today {dict(value)!r} is not what the hub writes: {error}; expected "
                '{"day": "2025-06-01", "served": {"alice": 1024}, "exceeded": []}'
            ) from None
        return cls(day, served, exceeded)


@dataclass
class Account:
    """One person's day: bytes sent, bytes the record covers, and whether the refusal is in it."""

    day: int
    spent: int = 0
    granted: int = 0
    sendable: int = 0  # min(granted, limit): what a message of any size may reach at once
    refusal_recorded: bool = False
    notes: int = 0
    reserving: asyncio.Future[bool] | None = None


# Records `browser.budget.reserved` for `bytes`; True once the hub has it or it is spooled.
Reserve = Callable[[int], Awaitable[bool]]


class BrowserBudget:
    """Every person's account for today; `limit` bytes a day each (must be positive)."""

    def __init__(
        self,
        limit: int,
        *,
        chunk: int,
        grace: int,
        served: Served | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if limit <= 0 or chunk <= 0 or grace < 0:
            raise ValueError("a browser budget needs a positive limit and chunk")
        self.limit, self.grace, self.clock = limit, grace, clock
        # A share is at most 1/64 of the day (at least 64 KiB): a server that stops wastes little.
        self.chunk = min(chunk, max(limit // 64, MIN_SHARE))
        self.low_water = self.chunk // 2  # take the next share before this one runs out
        self.accounts: dict[str, Account] = {}
        self.served = served or Served()

    def today(self) -> int:
        return int(self.clock()) // DAY

    def account(self, person: str) -> Account:
        """`person`'s account for today (a new day starts from zero, or from the hub's figure)."""
        today = self.today()
        account = self.accounts.get(person)
        if account is None or account.day != today:
            account = Account(today)
            if self.served.day == today:
                account.spent = self.served.served.get(person, 0)
                self._grant(account, account.spent)
                account.refusal_recorded = person in self.served.exceeded
            self.accounts[person] = account
        return account

    def ceiling(self, size: int, kernel: bool = False) -> int:
        """The most a day's total may reach with a message of `size` bytes (`kernel`: a
        kernel message, which may use the grace when small)."""
        return self.limit + self.grace if kernel and size <= SMALL else self.limit

    def fits(self, account: Account, size: int, kernel: bool = False) -> bool:
        return account.spent + size <= self.ceiling(size, kernel)

    def take_recorded(self, account: Account, size: int) -> None:
        """Count a read whose own event (carrying `served`) is being recorded."""
        account.spent += size
        self._grant(account, size)

    def give_back(self, account: Account, size: int) -> None:
        """Undo `take_recorded` when the event could not be recorded (nothing was sent)."""
        account.spent -= size
        self._grant(account, -size)

    def _grant(self, account: Account, size: int) -> None:
        account.granted += size
        account.sendable = min(account.granted, self.limit)

    def should_prefetch(self, account: Account) -> bool:
        return (
            account.reserving is None
            and account.granted - account.spent < self.low_water
            and account.granted < self.limit
        )

    async def reserve(self, account: Account, size: int, record: Reserve,
                      kernel: bool = False) -> bool:  # fmt: skip
        """Make the record cover `size` more bytes than are spent; True once it does. Shares
        stop at the limit, or at the grace past it for a small kernel message (`kernel`).

        One share is taken at a time per person: callers arriving meanwhile wait for it.
        """
        ceiling = self.ceiling(size, kernel)
        while account.spent + size > account.granted:
            if account.reserving is None:
                share = self._share(account, size, ceiling)
                if share <= 0:
                    return False
                account.reserving = asyncio.ensure_future(self._take(account, share, record))
            if not await asyncio.shield(account.reserving):
                return False
        return True

    def prefetch(self, account: Account, record: Reserve) -> None:
        """Take the next share in the background (the sender does not wait for it)."""
        if self.should_prefetch(account):
            share = self._share(account, 0, self.limit)
            if share > 0:
                account.reserving = asyncio.ensure_future(self._take(account, share, record))

    def _share(self, account: Account, size: int, ceiling: int) -> int:
        wanted = max(self.chunk, account.spent + size - account.granted)
        return min(wanted, ceiling - account.granted)

    async def _take(self, account: Account, share: int, record: Reserve) -> bool:
        try:
            recorded = await record(share)
            if recorded:
                self._grant(account, share)
            return recorded
        finally:
            account.reserving = None

    def refusal_to_record(self, account: Account) -> bool:
        """True the first time today `account` is refused: that refusal is recorded."""
        if account.refusal_recorded:
            return False
        account.refusal_recorded = True
        return True

    def note_allowed(self, account: Account) -> bool:
        """True for each of the first `NOTES_A_DAY` notes `account` is shown today."""
        account.notes += 1
        return account.notes <= NOTES_A_DAY

    def refusal_unrecorded(self, account: Account) -> None:
        """The refusal's event was lost: the next refusal today is recorded instead."""
        account.refusal_recorded = False


def describe(size: int) -> str:
    """`512 MiB`, `1.5 GiB`, `300 KiB`: a budget as people read it."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"
