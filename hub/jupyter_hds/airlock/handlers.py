"""The airlock's REST API on the hub: researchers' servers ask, output checkers decide.

    POST /hub/api/hds/airlock/requests             a user server's own token: ask for a release
    GET  /hub/api/hds/airlock/requests?project=P   a user server's own token: its owner's requests
    GET  /hub/api/hds/airlock/queue[?status=open|all]   output checkers: requests to review
    GET  /hub/api/hds/airlock/requests/<id>        output checkers: one request, its checks
    POST /hub/api/hds/airlock/requests/<id>/decision    output checkers: {"decision", "comment"}

The server's token says whose request it is and for which project (its server's); nothing
in the body is trusted beyond what the token proves. Answers: JSON; refusals
`{"status", "reason", "message"}` with the refusal's HTTP status.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from tornado import web

from hds_quota.plans import Plans

from .. import events
from ..audit.handlers import server_of_token
from ..audit.hub import client_address
from ..deployment import Deployment
from ..policy.access import ProjectFacts, check_access
from ..policy.airlock import OPEN_FOR_REVIEW, Airlock, parse_draft
from ..policy.projects import Project, ProjectRules, ProjectSettings
from ..policy.refusal import Refused
from .desk import ReleaseDesk
from .freeze import Sources
from .store import ReleaseStore, UnknownRequest

REVIEW_SCOPE = "custom:airlock:review"
DESK_KEY = "hds_airlock_desk"
MAX_BODY = 1024 * 1024
REQUEST_ID = r"[0-9a-f-]+"


class AirlockMixin:
    """What the API and the page share: the desk, projects' facts, who is a checker."""

    @property
    def config(self):
        return self.settings["config"]

    @property
    def desk(self) -> ReleaseDesk:
        desk = self.settings.get(DESK_KEY)
        if desk is None:
            store = ReleaseStore(Deployment(config=self.config).releases)
            desk = self.settings[DESK_KEY] = ReleaseDesk(store, Airlock(config=self.config))
        return desk

    def project_facts(self, name: str) -> ProjectFacts | None:
        group = orm.Group.find(self.db, name)
        if group is None:
            return None
        return ProjectFacts.of(name, group.properties, [u.name for u in group.users])

    def project(self, name: str, facts: ProjectFacts | None) -> Project:
        deployment = Deployment(config=self.config)
        rules = ProjectRules(
            Plans(config=self.config), ProjectSettings(config=self.config), deployment.datasets
        )
        check_access(None, name, facts, date.today())
        assert facts is not None  # check_access refuses a missing group
        return rules.parse(name, facts.properties)

    def is_checker(self) -> bool:
        user = self.current_user
        return user is not None and user.kind == "user" and self.has_scope(REVIEW_SCOPE)

    def checker(self) -> str:
        """The current person's name if they review releases, else 403."""
        if not self.is_checker():
            raise web.HTTPError(403, "Reviewing releases needs the output-checker role.")
        return self.current_user.name

    def groups_of(self, name: str) -> set[str]:
        user = orm.User.find(self.db, name)
        return {g.name for g in user.groups} if user is not None else set()

    def record(self, request_id: str) -> dict[str, Any]:
        try:
            return self.desk.store.load(request_id)
        except UnknownRequest:
            raise web.HTTPError(404, f"There is no request {request_id}.") from None

    def decide(self, request_id: str, decision: Any, comment: Any) -> dict[str, Any]:
        """The current checker's vote; Refused as the policy says."""
        checker = self.checker()
        if not isinstance(decision, str) or not isinstance(comment, str | None):
            raise Refused("bad-request", 'Send {"decision": "approve" | "request-changes" | '
                          '"reject", "comment": "..."}.', status=400)  # fmt: skip
        groups = self.groups_of(checker)
        return self.desk.decide(
            checker, request_id, decision, comment or "",
            lambda person, project: project in groups, source_ip=client_address(self.request),
        )  # fmt: skip


def refusal_body(refused: Refused) -> dict[str, Any]:
    return {"status": refused.status, "reason": refused.reason, "message": str(refused)}


class ServerRequestsHandler(AirlockMixin, APIHandler):
    """A user server asks for a release, or lists its owner's requests, with its own token."""

    _accept_cookie_auth = False

    def _server(self) -> tuple[str, str]:
        """(owner, project) of the server whose own token made this request; else 401/403."""
        raw_token = self.get_auth_token()
        orm_token = self.get_token() if raw_token else None
        if orm_token is None:
            self._audit_token("anonymous", "missing or invalid token")
            raise web.HTTPError(401, "Missing or invalid token.")
        found = server_of_token(orm_token, raw_token)
        if found is None:
            owner = orm_token.user or orm_token.service
            actor = owner.name if orm_token.user else f"service:{owner.name}"
            self._audit_token(actor, "not a user server's own token")
            raise web.HTTPError(403, "Only a user server's own token may ask for releases.")
        return found

    def _audit_token(self, actor: str, why: str) -> None:
        if self.request.method == "POST":
            events.emit("airlock.requested", actor=actor, outcome="refused",
                        source=client_address(self.request),
                        details={"reason": "token", "why": why})  # fmt: skip

    async def post(self):
        owner, server = self._server()
        try:
            draft, facts, sources, plan = self._prepare(owner, server)
        except Refused as refused:
            self._audit_refusal(owner, server, refused)
            return self._refuse(refused)
        try:
            record = await asyncio.to_thread(
                self.desk.submit, owner, draft, facts, sources, plan,
                source_ip=client_address(self.request),
            )  # fmt: skip
        except Refused as refused:  # audited by the desk
            return self._refuse(refused)
        self.set_status(201)
        self.finish(self.desk.requester_view(record))

    def _prepare(self, owner: str, server: str):
        """The checked request, the project's facts, where the files are, the plan; or Refused."""
        settings = self.desk.settings
        if len(self.request.body) > MAX_BODY:
            raise Refused("bad-request", f"The request is larger than {MAX_BODY} bytes.",
                          status=413)  # fmt: skip
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            raise Refused("bad-request", "The request body must be JSON.", status=400) from None
        draft = parse_draft(body, max_files=settings.max_files,
                            max_bytes=settings.max_request_bytes)  # fmt: skip
        if draft.project != server:
            raise Refused(
                "wrong-project", f"This server belongs to project {server}, not {draft.project}.",
                f"Ask for releases of {draft.project} from your server for that project.",
            )  # fmt: skip
        facts = self.project_facts(server)
        check_access(owner, server, facts, date.today())
        project = self.project(server, facts)
        spawner = self.find_user(owner).spawners.get(server)
        member_slug = getattr(spawner, "member_slug", None)
        if member_slug is None:
            raise Refused("no-storage", "This hub's spawner does not say where members' files "
                          "are, so nothing can be frozen.", "The operator must use the HDS "
                          "spawner (hds-docker).", status=500)  # fmt: skip
        sources = Sources(Deployment(config=self.config).projects, server, member_slug(),
                          project.dataset_path)  # fmt: skip
        return draft, facts, sources, project.plan.name

    def _audit_refusal(self, owner: str, server: str, refused: Refused) -> None:
        events.emit("airlock.requested", actor=owner, outcome="refused", project=server,
                    source=client_address(self.request), details=refused.details())  # fmt: skip

    def _refuse(self, refused: Refused) -> None:
        self.set_status(refused.status)
        self.finish(refusal_body(refused))

    async def get(self):
        owner, server = self._server()
        project = self.get_argument("project", server)
        if project != server:
            raise web.HTTPError(403, f"This server belongs to project {server}, not {project}.")
        self.finish({"requests": self.desk.requests_of(owner, server)})


class QueueHandler(AirlockMixin, APIHandler):
    """Output checkers: the requests waiting for review (or all of them)."""

    async def get(self):
        checker = self.checker()
        status = self.get_argument("status", "open")
        if status not in ("open", "all"):
            raise web.HTTPError(400, "status must be 'open' or 'all'.")
        records = self.desk.store.all()
        if status == "open":
            records = [r for r in records if r["status"] in OPEN_FOR_REVIEW]
        self.finish({"requests": [summary(self.desk.checker_view(r, checker)) for r in records]})


def summary(view: dict[str, Any]) -> dict[str, Any]:
    """A request in a list: who, what, where it stands (no checks, no file contents)."""
    keys = ("id", "project", "requester", "status", "purpose", "created", "approvals_required",
            "votes_in", "voted", "expires")  # fmt: skip
    return {
        **{k: view[k] for k in keys},
        "files": [{"path": f["path"], "size": f["size"]} for f in view["files"]],
        "flags": sum(len(f["check"]["flags"]) for f in view["files"]),
    }


class ReviewRequestHandler(AirlockMixin, APIHandler):
    """Output checkers: one request with its files' checks."""

    async def get(self, request_id: str):
        checker = self.checker()
        self.finish(self.desk.checker_view(self.record(request_id), checker))


class DecisionHandler(AirlockMixin, APIHandler):
    """Output checkers: approve, request changes or reject, with a comment."""

    async def post(self, request_id: str):
        self.checker()
        body = self.get_json_body() or {}
        if not isinstance(body, dict) or set(body) - {"decision", "comment"}:
            raise web.HTTPError(400, 'Send {"decision": "...", "comment": "..."}.')
        try:
            record = self.decide(request_id, body.get("decision"), body.get("comment"))
        except Refused as refused:
            self.set_status(refused.status)
            return self.finish(refusal_body(refused))
        self.finish(self.desk.checker_view(record, self.current_user.name))


API_HANDLERS = [
    (r"/api/hds/airlock/requests", ServerRequestsHandler),
    (r"/api/hds/airlock/queue", QueueHandler),
    (rf"/api/hds/airlock/requests/({REQUEST_ID})", ReviewRequestHandler),
    (rf"/api/hds/airlock/requests/({REQUEST_ID})/decision", DecisionHandler),
]
