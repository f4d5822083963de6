"""Frozen copies of finished requests go after c.Airlock.keep_days; their records stay."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest
from unit.test_airlock_desk import FIXED, TABLE, ask, nobody_is_member, setup  # noqa: F401

from jupyter_hds import cli as hds_cli
from jupyter_hds.airlock import retention
from jupyter_hds.policy.airlock import Airlock, files_kept_until
from support.audit_entries import read_lines

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "ended", "expires", "keep", "until"),
    [
        ("released", NOW, NOW + 7 * DAY, 90, NOW + 97 * DAY),
        ("rejected", NOW, None, 30, NOW + 30 * DAY),
        ("withdrawn", NOW, None, 30, NOW + 30 * DAY),
        ("released", NOW, NOW + 7 * DAY, 0, None),  # kept
        ("submitted", NOW, None, 1, None),  # still under review
        ("in-review", NOW, None, 1, None),
        ("changes-requested", NOW, None, 1, None),  # may be resubmitted
        ("approved", NOW, None, 1, None),
    ],
)
def test_when_frozen_copies_may_go(status, ended, expires, keep, until):
    assert files_kept_until(status, ended, expires, keep) == until


def test_a_negative_keep_days_is_refused():
    with pytest.raises(Exception, match="keep_days is -1; write 0 or more"):
        Airlock(keep_days=-1)


def released_and_rejected(desk, sources, work):
    first = ask(desk, sources, work, TABLE)
    desk.decide("carl", first["id"], "reject", "Row 2 is a 3.", nobody_is_member)
    desk.decide("dora", first["id"], "approve", "", nobody_is_member)
    second = ask(desk, sources, work, FIXED)
    desk.decide("carl", second["id"], "approve", "", nobody_is_member)
    desk.decide("dora", second["id"], "approve", "", nobody_is_member)
    return first["id"], second["id"]


def test_purge_deletes_only_what_is_due_and_keeps_the_records(setup):  # noqa: F811
    desk, sources, work = setup
    rejected, released = released_and_rejected(desk, sources, work)
    assert desk.store.load(rejected)["status"] == "rejected"
    settings = Airlock(keep_days=30)
    recorded = []
    now = datetime.now(UTC)

    assert retention.purge(desk.store, settings, now + 29 * DAY, recorded.append) == []
    # The rejection ended 30 days ago; the release is downloadable 7 days, then kept 30.
    later = now + 31 * DAY
    dry = retention.purge(desk.store, settings, later, recorded.append, dry_run=True)
    assert [f["target"] for f in dry] == [rejected] and recorded == []
    assert os.listdir(desk.store.folder(rejected) / "files") == ["1"]

    done = retention.purge(desk.store, settings, later, recorded.append)
    assert [f["target"] for f in done] == [rejected] == [f["target"] for f in recorded]
    assert done[0]["details"]["files"] == [
        {"path": "work/t.csv", "size": len(TABLE), "sha256": hashlib.sha256(TABLE).hexdigest()}
    ]
    assert os.listdir(desk.store.folder(rejected) / "files") == []
    kept = desk.store.load(rejected)
    assert kept["purged"] == later.isoformat() and kept["files"][0]["path"] == "work/t.csv"
    assert os.listdir(desk.store.folder(released) / "files") == ["1"]
    # Done once: a second run finds nothing more for the rejection.
    assert retention.purge(desk.store, settings, later, recorded.append) == []

    done = retention.purge(desk.store, settings, now + 38 * DAY, recorded.append)
    assert [f["target"] for f in done] == [released]
    assert os.listdir(desk.store.folder(released) / "files") == []


def test_the_command_records_each_deletion_in_the_audit_inbox(setup, tmp_path, capsys):  # noqa: F811
    desk, sources, work = setup
    rejected, _ = released_and_rejected(desk, sources, work)
    # The request ended long ago as far as the command can tell: rewrite its history's time.
    old = (datetime.now(UTC) - 100 * DAY).isoformat()
    desk.store.update(rejected, lambda r: {**r, "history": [{**h, "time": old}
                                                            for h in r["history"]]})  # fmt: skip
    assert hds_cli.main(["--state-dir", str(tmp_path), "airlock", "purge", "--dry-run"]) == 0
    assert f"{rejected}\tcohort\trejected\twould delete: work/t.csv" in capsys.readouterr().out
    assert not (tmp_path / "audit").exists() or not list((tmp_path / "audit").rglob("*.jsonl"))

    assert hds_cli.main(["--state-dir", str(tmp_path), "airlock", "purge"]) == 0
    assert f"{rejected}\tcohort\trejected\tdeleted: work/t.csv" in capsys.readouterr().out
    (inbox,) = list((tmp_path / "audit").rglob("*.jsonl"))
    (event,) = read_lines(inbox)
    assert (event["action"], event["target"], event["project"]) == (
        "airlock.purged", rejected, "cohort")  # fmt: skip
    assert event["details"]["keep_days"] == 90
    assert hds_cli.main(["--state-dir", str(tmp_path), "airlock", "purge"]) == 0
    assert "no frozen copy is due for deletion" in capsys.readouterr().out
