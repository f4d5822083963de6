"""What a restic repository holds, read as backups: complete or not, found by name, kept or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jupyter_hds.backup.catalogue import (
    age,
    catalogue,
    complete,
    find,
    human_size,
    incomplete,
    parse_time,
    to_forget,
)

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def snapshot(backup: str, part: str, time: datetime, sid: str, **tags: str) -> dict:
    extra = [f"{k.replace('_', '-')}={v}" for k, v in tags.items()]
    return {
        "id": sid * 8,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z"),
        "tags": [f"hds-backup={backup}", f"hds-part={part}", *extra],
        "paths": ["/var/lib/jupyter-hds/.backup/staging"],
    }


def backups_at(*days: float) -> list[dict]:
    """One complete backup (datasets, then state) per offset in days from START."""
    found = []
    for n, day in enumerate(days):
        moment = START + timedelta(days=day)
        name = moment.strftime("%Y%m%dT%H%M%SZ")
        found.append(snapshot(name, "datasets", moment, f"{n:x}a"))
        found.append(
            snapshot(name, "state", moment + timedelta(minutes=5), f"{n:x}b", hds_size="100")
        )
    return found


def test_parts_group_into_backups_and_one_without_its_state_part_is_incomplete():
    snapshots = backups_at(0) + [
        snapshot("20260302T020000Z", "datasets", START + timedelta(days=1), "ee"),
        snapshot("20260302T020000Z", "volume-alpha", START + timedelta(days=1), "ef"),
        {"id": "ff" * 32, "time": "2026-03-02T00:00:00Z", "tags": ["other-tool"]},
    ]
    backups = catalogue(snapshots)
    assert [b.id for b in backups] == ["20260301T020000Z", "20260302T020000Z"]
    assert [b.id for b in complete(backups)] == ["20260301T020000Z"]
    assert [b.id for b in incomplete(backups)] == ["20260302T020000Z"]
    assert incomplete(backups, running="20260302T020000Z") == []
    assert complete(backups)[0].size == 100
    assert backups[1].volumes == ["alpha"]


def test_a_backup_is_found_by_latest_id_or_snapshot_prefix():
    backups = catalogue(backups_at(0, 1, 2))
    assert find(backups, "latest").id == "20260303T020000Z"
    assert find(backups, "20260302T020000Z").id == "20260302T020000Z"
    assert find(backups, "1b1b1b").id == "20260302T020000Z"  # its state part
    assert find(backups, "0a0a").id == "20260301T020000Z"  # any part


@pytest.mark.parametrize(
    ("case_id", "ref", "message"),
    [
        ("unknown", "20250101T000000Z", "names no complete backup; name one as `hds backup list`"),
        ("too short", "1", "names no complete backup"),
    ],
)
def test_a_name_that_matches_no_single_backup_says_which_exist(case_id, ref, message):
    with pytest.raises(LookupError, match=message) as refused:
        find(catalogue(backups_at(0, 1)), ref)
    assert "20260302T020000Z (1b1b1b1b)" in str(refused.value)


def test_an_empty_repository_says_to_create_a_backup():
    with pytest.raises(LookupError, match="no complete backup yet: run `hds backup create`"):
        find(catalogue(backups_at(0)[:1]), "latest")


@pytest.mark.parametrize(
    ("case_id", "days", "keep", "dropped"),
    [
        ("newest always kept", [0, 1], (0, 0, 0), [0]),
        ("last n", [0, 1, 2, 3], (2, 0, 0), [0, 1]),
        ("one a day: the newest of a day", [0, 0.1, 0.2, 1], (1, 7, 0), [0, 0.1]),
        ("days beyond the daily count", [0, 1, 2, 3], (1, 2, 0), [0, 1]),
        ("months keep the month's newest", [0, 1, 31, 32, 62], (1, 1, 3), [0, 31]),
        ("a backup made by hand survives the daily one", [0.1, 0.5], (2, 1, 0), []),
    ],
)
def test_retention(case_id, days, keep, dropped):
    backups = catalogue(backups_at(*days))
    names = {(START + timedelta(days=d)).strftime("%Y%m%dT%H%M%SZ"): d for d in days}
    assert sorted(names[b.id] for b in to_forget(backups, *keep)) == dropped


def test_incomplete_backups_are_never_kept_nor_counted_by_retention():
    snapshots = backups_at(0) + [
        snapshot("20260305T020000Z", "datasets", START + timedelta(days=4), "cc")
    ]
    assert to_forget(catalogue(snapshots), 1, 0, 0) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T14:34:41.226514307Z", datetime(2026, 11, 30, 14, 34, 41, 226514, tzinfo=UTC)),
        ("2026-11-30T15:34:41.5+01:00", datetime(2026, 11, 30, 14, 34, 41, 500000, tzinfo=UTC)),
        ("2026-11-30T09:34:41-05:00", datetime(2026, 11, 30, 14, 34, 41, tzinfo=UTC)),
    ],
)
def test_restic_times_are_read_in_utc(text, expected):
    assert parse_time(text) == expected


def test_ages_and_sizes_read_as_people_say_them():
    assert age(START, START + timedelta(minutes=25)) == "25 min"
    assert age(START, START + timedelta(hours=3, minutes=2)) == "3 h 2 min"
    assert age(START, START + timedelta(days=2, hours=4)) == "2 d 4 h"
    assert [human_size(n) for n in (None, 512, 2048, 3 * 1024**3)] == [
        "?",
        "512 B",
        "2.0 KiB",
        "3.0 GiB",
    ]
