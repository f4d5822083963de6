"""The one event shape: what a server reports, what the inbox takes, checked on construction."""

from __future__ import annotations

import pytest

from hds_records.events import REPORT_FIELDS, Event
from jupyter_hds.audit.drain import well_formed
from jupyter_hds.audit.entry import EVENT_FIELDS, normalize_time


def event(**changes) -> Event:
    fields = {"actor": "alice", "outcome": "allowed", "project": "cohort-2024",
              "target": "dataset/patients.csv", "source": "10.0.0.7",
              "details": {"route": "/api/contents", "format": "text"}}  # fmt: skip
    return Event("dataset.read", **{**fields, **changes})


def test_a_report_has_the_contract_fields():
    report = event().to_dict()
    assert tuple(report) == REPORT_FIELDS
    assert len(report["id"]) == 32 and int(report["id"], 16) >= 0
    assert report["time"].endswith("Z") and normalize_time(report["time"]) == report["time"]


def test_an_inbox_entry_has_the_records_fields_and_is_well_formed():
    entry = event().to_entry("user", "server:alice/cohort-2024")
    assert tuple(entry) == tuple(f for f in EVENT_FIELDS if f != "recorded")  # the writer's
    assert well_formed(entry)


def test_each_event_gets_its_own_id():
    assert event().id != event().id


@pytest.mark.parametrize(
    ("case_id", "changes", "message"),
    [
        ("no-actor", {"actor": ""}, "needs an actor"),
        ("bad-outcome", {"outcome": "refused"}, "has outcome allowed"),
        ("details-not-a-dict", {"details": ["x"]}, "details must be a dict"),
    ],
)
def test_bad_events_are_refused_with_the_reason(case_id, changes, message):
    with pytest.raises(ValueError, match=message):
        event(**changes)
