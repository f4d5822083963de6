"""What an operator sets for backups: the restic repository, its password file, retention."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from traitlets import Bool, Integer, List, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..configdir import ENV_VAR as CONFIG_DIR_ENV
from ..deployment import Deployment

DEFAULT_CONFIG_DIR = "/etc/jupyter-hds/conf.d"


class Backup(LoggingConfigurable):
    """Where `hds backup` writes, with which key, and what it keeps."""

    repository = Unicode(
        "/var/backups/jupyter-hds",
        help="""The restic repository: a local folder (default; put it on another disk), or
        off-site: "sftp:backup@vault.example.org:/srv/restic/hds" (root's ssh key) or
        "s3:https://s3.example.org/bucket/hds" (keys in `credentials_file`). Never inside
        the state folder.""",
    ).tag(config=True)

    password_file = Unicode(
        "/etc/jupyter-hds/backup-password",
        help="""File holding the repository's password (root-only, 0600). Without it no backup
        can be read: keep a copy away from this host (a safe, the hosting team's vault).
        `make install` creates one when missing.""",
    ).tag(config=True)

    credentials_file = Unicode(
        "",
        help="""Optional root-only file of KEY=VALUE lines passed to restic's environment, for an
        S3 repository: AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=... (restic's names).""",
    ).tag(config=True)

    cache_dir = Unicode(
        "/var/cache/jupyter-hds/restic",
        help="restic's local cache (speeds up listing and incremental backups; safe to delete).",
    ).tag(config=True)

    config_paths = List(
        Unicode(),
        help="""Configuration outside the state folder saved with each backup, files or folders.
        Default: the operator's fragments ($HDS_CONFIG_DIR, else /etc/jupyter-hds/conf.d) and
        /etc/jupyter-hds/hub.env (the hub's secrets). The backup password is never saved.""",
    ).tag(config=True)

    database_url = Unicode(
        help="""The hub's database when it is not the SQLite file of the state folder: the
        hub publishes its c.JupyterHub.db_url here, password removed (PostgreSQL reads it
        from root's ~/.pgpass). Empty: the state folder's jupyterhub.sqlite.""",
    ).tag(config=True)

    freeze_volumes = Bool(
        True,
        help="""Freeze (fsfreeze) a project volume in use while it is read, so the copy is
        consistent; researchers' writes wait meanwhile. False: volumes in use are read live
        and each backup lists them as live.""",
    ).tag(config=True)

    freeze_timeout = Integer(
        900,
        help="""Longest freeze of one volume, in seconds: past it the volume is thawed whatever
        happens (even if the backup was killed), and listed as live in that backup.""",
    ).tag(config=True)

    keep_last = Integer(
        7,
        help="""Backups kept: the N newest, whenever taken (a backup made by hand before an
        upgrade is not dropped by the next daily one).""",
    ).tag(config=True)
    keep_daily = Integer(
        14, help="Backups kept: the newest of each of the last N days that have one."
    ).tag(config=True)
    keep_monthly = Integer(
        12, help="Backups kept: the newest of each of the last N months that have one."
    ).tag(config=True)

    max_age_hours = Integer(
        26,
        help="""`hds doctor` reports a problem when the newest complete backup is older (the
        timer runs daily).""",
    ).tag(config=True)

    @default("config_paths")
    def _default_config_paths(self):
        fragments = os.environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR
        return [fragments, "/etc/jupyter-hds/hub.env"]

    @default("database_url")
    def _default_database_url(self):
        url = self.config.get("JupyterHub", {}).get("db_url")
        if not url or url == Deployment(parent=self).db_url:
            return ""
        return without_password(str(url))

    @validate("database_url")
    def _no_password(self, proposal):
        if urlsplit(proposal.value).password:
            raise ValueError(
                "Backup.database_url must not hold a password (the settings are published): "
                f"write {without_password(proposal.value)!r} and put the password in ~/.pgpass"
            )
        return proposal.value

    @validate("repository")
    def _not_in_state(self, proposal):
        value = proposal.value
        if value and os.path.isabs(value):
            state = os.path.realpath(Deployment(parent=self).state_dir)
            if os.path.realpath(value).startswith(state.rstrip("/") + "/"):
                raise ValueError(
                    f"Backup.repository {value} is inside the state folder {state}: a lost disk "
                    "would take both; use another disk or an sftp:/s3: repository"
                )
        return value

    def database(self, deployment: Deployment) -> str:
        """The URL of the database to dump."""
        return self.database_url or deployment.db_url


def without_password(url: str) -> str:
    """`url` with any password removed from its user part."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
