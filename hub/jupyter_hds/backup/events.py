"""Backups and restores in the audit record: events put in the inbox of the state's record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..audit.inbox import Inbox
from ..audit.intake import new_event
from ..audit.operator import operator

SOURCE = "backup"


def record(audit_dir: Path, action: str, outcome: str, details: dict[str, Any]) -> None:
    """Put one event in the record's inbox; the audit service chains it when it runs."""
    name, kind = operator("hds-backup")  # the systemd timer, or a person at a shell
    event = new_event(action, name, kind, outcome, target=details.get("backup"), details=details)
    Inbox(audit_dir).put([event], source=SOURCE)
