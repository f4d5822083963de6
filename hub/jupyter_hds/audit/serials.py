"""Numbered reports: a gap in a server's numbers means events it reported never arrived.

The data guard numbers its events per server process (`details.stream`, a random id made
at its start, and `details.serial`, 1, 2, 3, ...; the counter lives in the non-dumpable
server's memory). The intake remembers the highest number seen per server and stream and
says which numbers an arriving batch skips. Kept in the hub's memory: after a hub restart,
the first number seen from a stream is where it starts counting again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

STREAM = re.compile(r"^[0-9a-f]{32}$")


class BadNumber(ValueError):
    """A report whose stream or serial is not the data guard's."""


@dataclass(frozen=True)
class Gap:
    stream: str
    first: int  # the first missing number
    last: int  # the last missing number

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def number_of(details: Any) -> tuple[str, int] | None:
    """(stream, serial) of a report's details, None when it carries none; BadNumber if bad."""
    if not isinstance(details, dict) or ("stream" not in details and "serial" not in details):
        return None
    stream, serial = details.get("stream"), details.get("serial")
    if not isinstance(stream, str) or not STREAM.match(stream):
        raise BadNumber(f"details.stream {stream!r} must be 32 lowercase hex digits")
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
        raise BadNumber(f"details.serial {serial!r} must be a whole number from 1")
    return stream, serial


class Streams:
    """The highest number seen per (server, stream), for the most recent `capacity` streams."""

    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._highest: OrderedDict[tuple[str, str], int] = OrderedDict()

    def observe(self, server: str, numbers: list[tuple[str, int]]) -> list[Gap]:
        """Take note of `numbers` (stream, serial) reported by `server`; return the gaps."""
        gaps = []
        for stream, serial in sorted(numbers):
            key = (server, stream)
            highest = self._highest.get(key)
            if highest is not None and serial > highest + 1:
                gaps.append(Gap(stream, highest + 1, serial - 1))
            self._highest[key] = max(serial, highest or 0)
            self._highest.move_to_end(key)
        while len(self._highest) > self.capacity:
            self._highest.popitem(last=False)
        return gaps
