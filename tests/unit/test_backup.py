"""Backups and restores for real: restic, SQLite, loop-mounted volumes (as root, as the hub runs)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hds_quota.ledger import Ledger, utcnow
from hds_quota.usage import Month, Usage
from hds_quota.volumes import mounts
from jupyter_hds.audit.drain import Drainer
from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.verify import Verifier
from jupyter_hds.audit.writer import ChainWriter
from jupyter_hds.backup import cli
from jupyter_hds.backup.catalogue import catalogue, complete
from jupyter_hds.backup.create import BackupRun
from jupyter_hds.backup.restic import BackupError, Restic
from jupyter_hds.backup.restore import RestoreRefused, RestoreRun
from jupyter_hds.backup.volumes import FROZEN, IDLE, LIVE, reading
from support.backup_state import UID, make_state


@pytest.fixture
def state(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("backup tests loop-mount project volumes: run them as root, as the hub runs")
    made = make_state(tmp_path)
    yield made
    for root in (tmp_path / "state", tmp_path / "restored"):
        for path in sorted(mounts(), reverse=True):
            if path.startswith(f"{root}/"):
                subprocess.run(["umount", path], check=False)


def inbox_events(audit_dir) -> list[dict]:
    path = audit_dir / "inbox" / "backup.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_restore_gives_back_every_part_of_the_state(state, tmp_path):
    d = state.deployment
    manifest = BackupRun(d, state.backup).run()
    assert set(manifest["parts"]) == {"datasets", "volume-alpha", "state"}
    assert manifest["volumes"][0]["state"] == IDLE and manifest["audit"]["intact"]

    target = tmp_path / "restored"
    report = RestoreRun(target, state.backup, config_root=tmp_path / "etc-restored").run("latest")
    assert report["volumes"] == ["alpha"]
    # The database, a consistent copy that opens.
    rows = sqlite3.connect(target / "jupyterhub.sqlite").execute("SELECT * FROM groups").fetchall()
    assert rows == [("alpha", '{"plan": "public"}')]
    # The audit record: same head, intact, and the events that were waiting in the inbox.
    verified = Verifier(target / "audit").verify()
    assert verified.intact and verified.entries == 120
    assert (verified.head_seq, verified.head_hash) == (
        manifest["audit"]["head_seq"], manifest["audit"]["head_hash"])  # fmt: skip
    assert (target / "audit" / "inbox" / "hub.jsonl").exists()
    # The usage ledger, project keys (root-only), dataset, secrets and settings.
    sessions = Usage(Ledger(target / "usage")).sessions(Month.of(utcnow()))
    assert [(s.project, s.user, s.stopped is not None) for s in sessions] == [
        ("alpha", "ann", True)
    ]
    key = target / "keys" / "alpha.key"
    assert key.read_bytes() == (d.keys / "alpha.key").read_bytes()
    assert (
        stat.S_IMODE(key.stat().st_mode) == 0o600
        and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    )
    assert (target / "datasets" / "cohort" / "1" / "manifest.json").read_text() == '{"rows": 10}\n'
    assert (target / "jupyterhub_cookie_secret").read_text() == "ab" * 32
    settings = json.loads((target / "hds-settings.json").read_text())
    assert settings["Deployment"]["state_dir"] == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    # The operator's configuration, under the chosen root; never the backup password.
    etc = tmp_path / "etc-restored" / str(tmp_path / "etc").lstrip("/")
    assert (etc / "conf.d" / "10-site.py").read_text().startswith("c.Deployment.public_url")
    assert (etc / "hub.env").exists() and not (etc / "backup-password").exists()
    # The volume: a new image of the same size, files with their owners.
    volumes = type(state.volumes)(target / "project-volumes", target / "projects")
    assert volumes.usage("alpha").size == manifest["volumes"][0]["size"]
    volumes.ensure("alpha", manifest["volumes"][0]["size"], in_use=False)
    try:
        note = target / "projects" / "alpha" / "users" / "ann" / "analysis.py"
        assert note.read_bytes() == b"print(1)\n" and note.stat().st_uid == UID
    finally:
        volumes.unmount("alpha")


def test_the_next_event_after_a_restore_chains_onto_the_restored_head(state, tmp_path):
    manifest = BackupRun(state.deployment, state.backup).run()
    target = tmp_path / "restored"
    RestoreRun(target, state.backup).run("latest")
    (restored,) = [e for e in inbox_events(target / "audit") if e["action"] == "backup.restored"]
    assert restored["details"]["audit_head_seq"] == manifest["audit"]["head_seq"]

    writer = ChainWriter(target / "audit", fsync=False).open()  # what the audit service does
    Drainer(Inbox(target / "audit"), writer).drain()
    writer.close()
    report = Verifier(target / "audit").verify()
    assert report.intact and report.head_seq == manifest["audit"]["head_seq"] + 2  # login, restore
    last = [json.loads(line) for line in sorted((target / "audit" / "segments").glob("*.jsonl"))[-1].read_text().splitlines()]  # fmt: skip
    after = [e for e in last if e["seq"] == manifest["audit"]["head_seq"] + 1][0]
    assert after["prev"] == manifest["audit"]["head_hash"]
    assert {e["action"] for e in last if e["seq"] > manifest["audit"]["head_seq"]} == {
        "login",
        "backup.restored",
    }


def test_a_failing_step_leaves_no_snapshot_and_says_why(state):
    state.config.Backup.config_paths = []
    (state.deployment.state / "jupyterhub.sqlite").unlink()  # the dump fails after the volume
    with pytest.raises(BackupError, match="no hub database at"):
        BackupRun(state.deployment, state.backup).run()
    assert Restic(state.backup).snapshots() == []


def test_a_partial_snapshot_from_restic_is_forgotten(state, tmp_path):
    # restic exits 3 ("some files could not be read") yet saves a snapshot: it must go.
    wrapper = tmp_path / "restic-unreadable"
    wrapper.write_text('#!/bin/sh\nrestic "$@"; code=$?\n'
                       'case "$*" in *hds-part=state*) exit 3;; esac\nexit $code\n')  # fmt: skip
    wrapper.chmod(0o755)
    run = BackupRun(state.deployment, state.backup, restic=Restic(state.backup, str(wrapper)))
    with pytest.raises(BackupError, match="could not read every file"):
        run.run()
    assert Restic(state.backup).snapshots() == []


def test_a_killed_run_is_never_listed_and_is_forgotten_by_the_next(state):
    restic = Restic(state.backup)
    BackupRun(state.deployment, state.backup).run()
    restic.backup(
        state.deployment.datasets, {"hds-backup": "20200101T000000Z", "hds-part": "datasets"}
    )
    backups = catalogue(restic.snapshots())
    assert len(backups) == 2 and len(complete(backups)) == 1
    time.sleep(1)  # backup ids are to the second
    BackupRun(state.deployment, state.backup).run()
    ids = [b.id for b in catalogue(restic.snapshots())]
    assert "20200101T000000Z" not in ids and len(ids) == 2


def test_a_volume_in_use_is_frozen_while_read_and_thawed_after(state, tmp_path):
    volumes = state.volumes
    volumes.ensure("alpha", 64 * 1024**2, in_use=False)  # a server runs: mounted
    at = tmp_path / "read-point"
    written = threading.Event()

    def write():
        with open(volumes.mountpoint("alpha") / "during.txt", "w") as out:
            out.write("x")
            out.flush()
            os.fsync(out.fileno())
        written.set()

    with reading(volumes, "alpha", at, freeze=True, timeout=60) as read:
        assert read.state == FROZEN and (at / "shared" / "notes.md").exists()
        writer = threading.Thread(target=write)
        writer.start()
        assert not written.wait(1.0), "a write went through while the volume was frozen"
    assert written.wait(10) and read.frozen_seconds >= 1.0
    writer.join()
    assert not os.path.ismount(at) and volumes.is_mounted("alpha")
    volumes.unmount("alpha")


def test_a_freeze_that_lasts_too_long_is_thawed_by_the_watchdog_and_called_live(state, tmp_path):
    volumes = state.volumes
    volumes.ensure("alpha", 64 * 1024**2, in_use=False)
    with reading(volumes, "alpha", tmp_path / "read-point", freeze=True, timeout=1) as read:
        time.sleep(2.5)
        (volumes.mountpoint("alpha") / "after-thaw.txt").write_text("x")  # would hang if frozen
    assert read.state == LIVE and "watchdog" in read.note
    volumes.unmount("alpha")


def test_without_freezing_a_volume_in_use_is_listed_as_live(state):
    state.config.Backup.freeze_volumes = False
    state.volumes.ensure("alpha", 64 * 1024**2, in_use=False)
    manifest = BackupRun(state.deployment, state.backup).run()
    assert manifest["volumes"][0]["state"] == LIVE
    assert "read live" in manifest["volumes"][0]["note"]
    state.volumes.unmount("alpha")


def test_a_restore_refuses_a_state_in_use_or_not_empty_and_never_mixes(state, tmp_path):
    BackupRun(state.deployment, state.backup).run()
    live = state.deployment.state
    state.volumes.ensure("alpha", 64 * 1024**2, in_use=False)  # as if its hub ran
    with pytest.raises(RestoreRefused, match="a hub runs on it; stop it first"):
        RestoreRun(live, state.backup, force=True).run("latest")
    state.volumes.unmount("alpha")
    with pytest.raises(RestoreRefused, match="is not empty: restore into an empty or new folder"):
        RestoreRun(live, state.backup).run("latest")

    (live / "written-after-the-backup").write_text("kept aside, not mixed in")
    report = RestoreRun(live, state.backup, force=True).run("latest")
    aside = report["moved_aside"]
    assert (Path(aside) / "written-after-the-backup").read_text() == "kept aside, not mixed in"
    assert not (live / "written-after-the-backup").exists()
    assert not list(live.parent.glob(".state.restoring-*"))


def test_the_command_records_each_backup_in_the_audit_inbox(state, capsys):
    args = ["--state-dir", str(state.deployment.state), "backup"]
    assert cli.main([*args, "create", "--quiet"]) == 0
    assert "1 volume(s)" in capsys.readouterr().out
    (event,) = inbox_events(state.deployment.audit)
    assert (event["action"], event["outcome"], event["actor_kind"]) == (
        "backup.created",
        "succeeded",
        "admin",
    )
    assert event["details"]["audit_head_seq"] == 120 and event["details"]["live_volumes"] == []
    assert cli.main([*args, "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].startswith(event["details"]["backup"]) and "1" in listing[1]

    state.config.Backup.password_file = "/nonexistent"
    assert cli.main([*args, "create", "--password-file", "/nonexistent"]) == 2
    assert "no backup password at /nonexistent" in capsys.readouterr().err
    failed = inbox_events(state.deployment.audit)[-1]
    assert (failed["action"], failed["outcome"]) == ("backup.created", "failed")


def test_a_wrong_password_is_named_and_never_taken_for_a_missing_repository(state, tmp_path):
    Restic(state.backup).init()
    (tmp_path / "other-password").write_text("not the one\n")
    state.config.Backup.password_file = str(tmp_path / "other-password")
    with pytest.raises(BackupError, match="cannot be opened: .*wrong password"):
        BackupRun(state.deployment, state.backup).run()
    with pytest.raises(
        BackupError, match="no state folder at /nonexistent: name it with --state-dir"
    ):
        state.config.Deployment.state_dir = "/nonexistent"
        BackupRun(state.deployment, state.backup).run()
    assert not os.path.exists("/nonexistent")
