"""Who runs an `hds` command on the host, as the audit record names them."""

from __future__ import annotations

import getpass
import os


def operator(service: str = "") -> tuple[str, str]:
    """(actor, actor kind): a systemd unit run without a terminal is the service
    `service:<service>` when one is named; a person at a shell is the admin behind sudo,
    else the account."""
    if service and os.environ.get("INVOCATION_ID") and not os.isatty(0):
        return f"service:{service}", "service"
    return os.environ.get("SUDO_USER") or getpass.getuser(), "admin"
