"""Numbered reports: the intake says which numbers a server's reports skipped."""

from __future__ import annotations

import pytest

from jupyter_hds.audit.serials import BadNumber, Gap, Streams, number_of

A, B = "a" * 32, "b" * 32


def test_numbers_in_order_leave_no_gap():
    streams = Streams()
    assert streams.observe("s1", [(A, 1), (A, 2)]) == []
    assert streams.observe("s1", [(A, 3)]) == []


def test_skipped_numbers_are_a_gap_once():
    streams = Streams()
    streams.observe("s1", [(A, 1), (A, 2)])
    assert streams.observe("s1", [(A, 6), (A, 5)]) == [Gap(A, 3, 4)]
    assert streams.observe("s1", [(A, 3)]) == []  # late, not a second gap
    assert Gap(A, 3, 4).count == 2


def test_streams_and_servers_are_counted_apart():
    streams = Streams()
    streams.observe("s1", [(A, 1)])
    assert streams.observe("s1", [(B, 1)]) == []
    assert streams.observe("s2", [(A, 4)]) == []  # first seen: where its count starts
    assert streams.observe("s1", [(A, 3)]) == [Gap(A, 2, 2)]


def test_old_streams_are_forgotten_past_capacity():
    streams = Streams(capacity=2)
    for n, stream in enumerate([A, B, "c" * 32]):
        streams.observe("s1", [(stream, 1 + n)])
    assert streams.observe("s1", [(A, 9)]) == []  # forgotten: counts from here


@pytest.mark.parametrize(
    ("details", "expected"),
    [({}, None), ({"route": "/files"}, None), (None, None), ({"stream": A, "serial": 7}, (A, 7))],
)
def test_reports_carry_a_number_or_none(details, expected):
    assert number_of(details) == expected


@pytest.mark.parametrize(
    "details",
    [{"stream": A}, {"serial": 1}, {"stream": "A" * 32, "serial": 1}, {"stream": A, "serial": True},
     {"stream": A, "serial": -1}],
)  # fmt: skip
def test_a_malformed_number_is_refused(details):
    with pytest.raises(BadNumber):
        number_of(details)
