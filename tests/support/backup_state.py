"""A hub state folder made without a hub, for backup tests and the backup benchmark.

It holds what a running hub leaves: a SQLite database, a chained audit record (sealed
segments and an open one) with events waiting in the inbox, a usage ledger, a dataset, a
project key, project volumes (loop-mounted ext4 images: run as root) with files owned by
the servers' uid, the published settings and the cookie secret.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

from hds_quota.ledger import Ledger, server_started, server_stopped
from hds_quota.plans import Plans
from hds_quota.volumes import ProjectVolumes
from jupyter_hds import settings
from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.audit.intake import new_event
from jupyter_hds.audit.writer import ChainWriter
from jupyter_hds.backup.config import Backup
from jupyter_hds.deployment import Deployment

M = 1024**2
UID = 1000


@dataclass
class State:
    """A made state folder and the backup settings that reach its repository."""

    root: Path
    config: Config

    @property
    def deployment(self) -> Deployment:
        return Deployment(config=self.config)

    @property
    def backup(self) -> Backup:
        return Backup(config=self.config)

    @property
    def volumes(self) -> ProjectVolumes:
        d = self.deployment
        return ProjectVolumes(d.volumes, d.projects)


def backup_config(root: Path, state: Path) -> Config:
    config = Config()
    config.Deployment.state_dir = str(state)
    config.Backup.repository = str(root / "repository")
    config.Backup.password_file = str(root / "etc" / "backup-password")
    config.Backup.cache_dir = str(root / "cache")
    config.Backup.config_paths = [str(root / "etc" / "conf.d"), str(root / "etc" / "hub.env")]
    return config


def make_state(
    root: Path,
    audit_events: int = 120,
    segment_entries: int = 50,
    volumes: dict[str, dict[str, bytes]] | None = None,
    volume_size: int = 64 * M,
) -> State:
    """A state folder in `root/state`, its configuration in `root/etc`, a repository beside."""
    state = root / "state"
    state.mkdir(mode=0o700, parents=True)
    etc = root / "etc"
    (etc / "conf.d").mkdir(parents=True)
    (etc / "conf.d" / "10-site.py").write_text('c.Deployment.public_url = "https://hds.test"\n')
    (etc / "hub.env").write_text("JUPYTERHUB_CRYPT_KEY=00ff\n")
    (etc / "backup-password").write_text("correct horse battery staple\n")
    for secret in (etc / "hub.env", etc / "backup-password"):
        secret.chmod(0o600)
    made = State(root, backup_config(root, state))
    d = made.deployment
    _database(state / "jupyterhub.sqlite")
    (state / "jupyterhub_cookie_secret").write_text("ab" * 32)
    settings.publish(made.config)
    _audit(d.audit, audit_events, segment_entries)
    plan = Plans().get("public")
    Ledger(d.usage).append(server_started(plan, "alpha", "ann", 1, 0, "jupyter-hds/singleuser"))
    Ledger(d.usage).append(server_stopped("alpha", "ann", "stopped", 4096))
    dataset = d.datasets / "cohort" / "1"
    dataset.mkdir(parents=True)
    (dataset / "patients.parquet").write_bytes(os.urandom(4096))
    (dataset / "manifest.json").write_text('{"rows": 10}\n')
    d.keys.mkdir(mode=0o700)
    (d.keys / "alpha.key").write_bytes(os.urandom(32))
    (d.keys / "alpha.key").chmod(0o600)
    for project, files in (volumes if volumes is not None else {"alpha": {}}).items():
        fill_volume(made.volumes, project, volume_size, files)
    return made


def fill_volume(volumes: ProjectVolumes, project: str, size: int, files: dict[str, bytes]) -> None:
    """A project volume holding `files` (paths under its root) owned by the servers' uid."""
    volumes.ensure(project, size, in_use=False)
    root = volumes.mountpoint(project)
    files = files or {"shared/notes.md": b"# notes\n", "users/ann/analysis.py": b"print(1)\n"}
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for owned in (path, path.parent):
            os.chown(owned, UID, UID)
    volumes.unmount(project)


def _database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE groups (name TEXT PRIMARY KEY, properties TEXT)")
        db.execute("INSERT INTO groups VALUES ('alpha', '{\"plan\": \"public\"}')")
    db.close()


def _audit(folder: Path, count: int, segment_entries: int) -> None:
    writer = ChainWriter(folder, segment_entries=segment_entries, fsync=False).open()
    events = [
        new_event("server.start", "ann", "user", "succeeded", project="alpha", details={"n": n})
        for n in range(count)
    ]
    writer.append(events)
    writer.seal_pending()
    writer.close()
    Inbox(folder).put([new_event("login", "bob", "user", "succeeded")], source="hub")
