"""Backups and restores in the audit record: events put in the inbox of the state's record."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from ..audit.inbox import Inbox
from ..audit.intake import new_event

SOURCE = "backup"


def actor() -> tuple[str, str]:
    """Who runs this: the systemd timer (a service) or a person at a shell (an admin)."""
    if os.environ.get("INVOCATION_ID") and not os.isatty(0):
        return "service:hds-backup", "service"
    return os.environ.get("SUDO_USER") or getpass.getuser(), "admin"


def record(audit_dir: Path, action: str, outcome: str, details: dict[str, Any]) -> None:
    """Put one event in the record's inbox; the audit service chains it when it runs."""
    name, kind = actor()
    event = new_event(action, name, kind, outcome, target=details.get("backup"), details=details)
    Inbox(audit_dir).put([event], source=SOURCE)
