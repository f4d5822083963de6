"""Reading a real hub's audit record in tests: wait for entries, log in through the hub's form."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from textwrap import dedent

import requests

from jupyter_hds.audit.entry import FIELDS
from jupyter_hds.audit.query import AuditQuery, Filters
from jupyter_hds.audit.verify import Verifier

# A test fragment standing in for the OIDC login: a DummyAuthenticator that emits `login`,
# `login.failed` and `logout` through jupyter_hds.events the way the real login does.
EMITTING_LOGIN = dedent("""
    from jupyterhub.auth import DummyAuthenticator
    from jupyterhub.handlers.login import LogoutHandler
    from jupyter_hds import events
    from jupyter_hds.audit.hub import client_address

    class EmittingLogout(LogoutHandler):
        async def default_handle_logout(self):
            if self.current_user:
                events.emit("logout", actor=self.current_user.name, outcome="succeeded",
                            source=client_address(self.request))
            await super().default_handle_logout()

    class EmittingLogin(DummyAuthenticator):
        async def authenticate(self, handler, data):
            source = client_address(handler.request)
            if data.get("password") == "wrong":
                events.emit("login.failed", actor="anonymous", outcome="refused", source=source,
                            target=data["username"], details={"reason": "bad password"})
                return None
            events.emit("login", actor=data["username"], outcome="succeeded", source=source)
            return data["username"]

        def get_handlers(self, app):
            return [("/logout", EmittingLogout), *super().get_handlers(app)]

    c.JupyterHub.authenticator_class = EmittingLogin
    # root is in the hosting team (the hds-admin role), dpo an auditor.
    c.JupyterHub.load_groups.update({"hds-admins": {"users": ["root"]}, "auditors": {"users": ["dpo"]}})
""")


def audit_dir(hub) -> Path:
    return hub.state_dir / "audit"


def entries(hub, **filters) -> list[dict]:
    """Every entry of the hub's record matching `filters`, oldest first."""
    query = AuditQuery(audit_dir(hub))
    parsed = Filters.parse(lambda name: filters.get(name))
    rows = [dict(zip(FIELDS, row, strict=True)) for batch in query.export(parsed) for row in batch]
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def wait_for(hub, count: int = 1, timeout: float = 30, where=None, **filters) -> list[dict]:
    """Wait until at least `count` entries match `filters` (and `where(entry)`); return them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in entries(hub, **filters) if where is None or where(e)]
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(found) >= count, f"expected {count} entries for {filters}, found {found}"
    return found


def verify(hub):
    return Verifier(audit_dir(hub)).verify()


def writer_pid(hub) -> int:
    return int((audit_dir(hub) / "writer.lock").read_text().strip())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def as_admin_panel(session: requests.Session, hub, method: str, path: str, **kwargs):
    """A REST call the way the admin panel makes it: cookie plus the X-XSRFToken header."""
    headers = {"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/")}
    return session.request(
        method, f"{hub.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
    )
