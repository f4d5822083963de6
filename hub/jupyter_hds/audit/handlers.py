"""POST /hub/api/hds/audit/events: users' servers report data-guard events with their own token."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jupyterhub import orm, scopes
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.utils import compare_token
from tornado import web

from .entry import actor_kind
from .hub import HubAudit, is_admin_user
from .intake import MAX_EVENTS_PER_REQUEST, EventRefused, from_server, new_event
from .limits import Verdict
from .serials import BadNumber, Gap, number_of

MAX_BODY = 2 * 1024 * 1024
# The intake's writes (an fsync each) run here, in arrival order, off the hub's event loop.
WRITER = ThreadPoolExecutor(1, thread_name_prefix="audit-intake")


def server_of_token(orm_token: orm.APIToken, raw_token: str) -> tuple[str, str] | None:
    """(owner, server name) when `raw_token` is the API token of one of its user's running servers.

    A server's token is the secret of that server's OAuth client (JupyterHub stores it
    hashed), so this survives hub restarts and cannot be imitated by a user's own tokens,
    whatever their note or scopes say. Checking it costs a slow hash (about 2 ms, on the
    hub's loop), so a token once checked is remembered while its server's secret is the same.
    """
    user = orm_token.user
    if user is None:
        return None
    key = hashlib.sha256(raw_token.encode()).hexdigest()
    for spawner in user._orm_spawners:
        client = spawner.oauth_client
        if spawner.server is None or client is None or not client.secret:
            continue
        if orm_token.note != f"Server at {spawner.server.base_url}":
            continue
        found = (user.name, spawner.name, client.secret)
        if _CHECKED.get(key) == found or compare_token(client.secret, raw_token):
            _CHECKED[key] = found
            _CHECKED.move_to_end(key)
            while len(_CHECKED) > 10_000:
                _CHECKED.popitem(last=False)
            return user.name, spawner.name
    return None


# sha256(server token) -> (owner, server, the hashed secret it was checked against)
_CHECKED: OrderedDict[str, tuple[str, str, str]] = OrderedDict()


def may_use_server(db, name: str, owner: str, server: str) -> bool:
    """Whether user `name` may open `owner`'s server `server` (a share, a role, admin access)."""
    orm_user = orm.User.find(db, name)
    orm_owner = orm.User.find(db, owner)
    if orm_user is None or orm_owner is None or server not in orm_owner.orm_spawners:
        return False
    parsed = scopes.parse_scopes(scopes.get_scopes_for(orm_user))
    if "access:servers" not in parsed:
        return False
    return bool(
        scopes.check_scope_filter(
            parsed["access:servers"], orm_owner.orm_spawners[server], "server"
        )
    )


class AuditEventsHandler(APIHandler):
    """Accepts `{"events": [...]}` from a user's server; answers which were accepted and refused.

    Only a server's own token is accepted (401 otherwise; 403 for any other valid token).
    Each event is checked against the token's server: its project must be that server, its
    user one who may use it, its action one that servers report. A refused event is recorded
    inside an `audit.report.refused` entry; the others are recorded as reported. When every
    event is refused, the answer is the first refusal's status. A server past its rate or
    daily volume gets 429 (`audit.report.limited`, recorded once per episode); numbers its
    reports skip are recorded as `audit.report.missing`. Writes run off the hub's loop.
    """

    _accept_cookie_auth = False

    async def post(self):
        raw_token = self.get_auth_token()
        orm_token = self.get_token() if raw_token else None
        if orm_token is None:
            await self._refuse(401, "missing or invalid token", "anonymous", "anonymous")
        owner_server = server_of_token(orm_token, raw_token)
        if owner_server is None:
            actor, kind = self._token_actor(orm_token)
            await self._refuse(403, "this token is not a user server's own token", actor, kind)
        owner, server = owner_server
        reporter = f"server:{owner}/{server}"
        sink = HubAudit.instance()
        gate = sink.limits.gate(reporter, len(self.request.body))  # before reading the body
        if not gate.allowed:
            return await self._limited(gate, owner, reporter, server)
        try:
            raws = self._events()
        except EventRefused as refused:
            await self._refuse(refused.status, str(refused), owner, "user", reporter, server)
        verdict = sink.limits.admit(reporter, len(raws), len(self.request.body))
        if not verdict.allowed:
            return await self._limited(verdict, owner, reporter, server)
        checked, refusals = self._check(raws, owner, server)
        gaps = sink.streams.observe(reporter, _numbers(raws))
        entries = [
            *checked,
            *(self._refusal(r, owner, reporter, server, raw) for r, raw in refusals),
            *(self._missing(gap, reporter, server) for gap in gaps),
        ]
        try:
            await _in_writer(sink.record_durably, entries)
        except OSError as error:
            self.log.error("audit: cannot accept events from %s/%s: %s", owner, server, error)
            raise web.HTTPError(
                503, "%s", "the audit inbox is unavailable; keep the events and retry"
            ) from None
        if refusals and not checked:
            first = refusals[0][0]
            raise web.HTTPError(first.status, "%s", str(first))
        self.write(
            {
                "accepted": [event["id"] for event in checked],
                "refused": [
                    {"id": raw.get("id") if isinstance(raw, dict) else None,
                     "status": refused.status, "reason": str(refused)}
                    for refused, raw in refusals
                ],
            }
        )  # fmt: skip

    def _check(self, raws: list[Any], owner: str, server: str):
        """The batch's events that hold, and (refusal, event) for those that do not."""
        # Whether someone may use the server is asked once per person: a batch of up to
        # MAX_EVENTS_PER_REQUEST events, each a database look-up, runs on the hub's loop.
        may_use = functools.cache(lambda name: may_use_server(self.db, name, owner, server))
        checked, refusals = [], []
        for raw in raws:
            # Event by event: one false claim (a guest removed a moment ago, say) must not
            # take the batch's other events with it. A refused event is kept as evidence
            # inside its audit.report.refused entry, never as a trusted entry.
            try:
                checked.append(from_server(raw, owner, server, may_use))
            except EventRefused as refused:
                refusals.append((refused, raw))
        return checked, refusals

    def _refusal(self, refused: EventRefused, owner, reporter, server, raw) -> dict[str, Any]:
        """The audit.report.refused entry for one refused event, carrying the event itself."""
        evidence = json.dumps(raw, default=str)[:4000]
        return new_event(
            "audit.report.refused", owner, "user", "refused", project=server, target=reporter,
            source=self.source,
            details={"status": refused.status, "reason": str(refused), "event": evidence},
        )  # fmt: skip

    @staticmethod
    def _missing(gap: Gap, reporter: str, server: str) -> dict[str, Any]:
        """The audit.report.missing entry for numbers a server's reports skipped."""
        return new_event(
            "audit.report.missing", "service:jupyterhub", "service", "failed", project=server,
            target=reporter, details={"stream": gap.stream, "first": gap.first,
                                      "last": gap.last, "count": gap.count},
        )  # fmt: skip

    async def _limited(self, verdict: Verdict, owner: str, reporter: str, server: str) -> None:
        """Answer 429; the first refusal of an episode (per limit) goes into the record."""
        sink = HubAudit.instance()
        if verdict.record:
            limits = sink.limits
            event = new_event(
                "audit.report.limited", owner, "user", "refused", project=server,
                target=reporter, source=self.source,
                details={"limit": verdict.limit, "refused_requests": verdict.refused_since,
                         "rate": limits.rate, "burst": limits.burst,
                         "daily_bytes": limits.daily_bytes},
            )  # fmt: skip
            await _in_writer(sink.record, [event])
        # Answered here, not raised: Tornado's error path would drop the Retry-After header.
        reason = {"rate": "events per second", "daily": "bytes today"}[verdict.limit]
        self.set_status(429)
        self.set_header("Retry-After", str(int(verdict.retry_after + 0.999)))
        message = f"{reporter} reports too many {reason}; retry later"
        self.finish({"status": 429, "message": message})

    @property
    def source(self) -> str | None:
        return HubAudit.instance().client_address(self.request)

    def _events(self) -> list[Any]:
        if len(self.request.body) > MAX_BODY:
            raise EventRefused(413, f"body larger than {MAX_BODY} bytes; send smaller batches")
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise EventRefused(400, 'body is not JSON; send {"events": [...]}') from None
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise EventRefused(400, 'body must be {"events": [...]}')
        if len(body["events"]) > MAX_EVENTS_PER_REQUEST:
            raise EventRefused(400, f"at most {MAX_EVENTS_PER_REQUEST} events per request")
        return body["events"]

    @staticmethod
    def _token_actor(orm_token: orm.APIToken) -> tuple[str, str]:
        if orm_token.service is not None:
            return f"service:{orm_token.service.name}", "service"
        return orm_token.user.name, actor_kind(orm_token.user.name, is_admin_user(orm_token.user))

    async def _refuse(
        self,
        status: int,
        reason: str,
        actor: str,
        kind: str,
        reporter: str | None = None,
        project: str | None = None,
    ):
        """Record the refused report, then answer `status` with `reason`."""
        event = new_event(
            "audit.report.refused",
            actor,
            kind,
            "refused",
            project=project,
            target=reporter,
            source=self.source,
            details={"status": status, "reason": reason},
        )
        await _in_writer(HubAudit.instance().record, [event])
        raise web.HTTPError(status, "%s", reason)


async def _in_writer(write, entries: list[dict[str, Any]]) -> None:
    """Run `write(entries)` in the intake's writer thread: its fsync never blocks the loop."""
    await asyncio.get_running_loop().run_in_executor(WRITER, write, entries)


def _numbers(raws: list[Any]) -> list[tuple[str, int]]:
    """The (stream, serial) of each report that carries a well-formed one."""
    found = []
    for raw in raws:
        try:
            number = number_of(raw.get("details")) if isinstance(raw, dict) else None
        except BadNumber:
            number = None
        if number is not None:
            found.append(number)
    return found
