"""The hub's sharing endpoints: members let members of the same project into their server.

JupyterHub's own sharing API is not used by people here: nobody holds the `shares` scope,
so share codes (which let any logged-in user in) and shares with arbitrary users cannot be
made. These handlers grant the same `orm.Share` records, after `SharingPolicy` says yes:

    GET    /hub/api/hds/shares/<owner>/<project>      the server's shares (its owner)
    POST   /hub/api/hds/shares/<owner>/<project>      {"user": name}
    DELETE /hub/api/hds/shares/<owner>/<project>?user=name
    GET    /hub/api/hds/shared-with-me                 servers others share with the caller
    GET    /hub/hds/sharing                            the same as a page, with forms

Every grant, refusal and revocation is an audit event (`share.granted`, `share.refused`,
`share.revoked`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from tornado import web

from .. import events, i18n
from ..audit.hub import client_address
from ..policy.access import ProjectFacts
from ..policy.projects import is_project
from ..policy.refusal import Refused
from ..policy.sharing import ShareRequest, SharingPolicy, share_problem
from ..policy.text import Text
from . import revocation

NAME = r"[^/]+"


class SharingMixin:
    """The sharing actions, shared by the REST API and the page."""

    def actor(self) -> str:
        user = self.current_user
        if user is None:
            return "anonymous"
        return user.name if user.kind == "user" else f"service:{user.name}"

    def project_facts(self, project: str) -> ProjectFacts | None:
        group = orm.Group.find(self.db, project)
        if group is None:
            return None
        return ProjectFacts.of(project, group.properties, [u.name for u in group.users])

    def grant(self, request: ShareRequest) -> orm.Share:
        """Grant `request` or raise Refused; audited either way."""
        try:
            self._check(request)
            spawner = self._spawner(request.owner, request.project)
            recipient = self._recipient(request)
            share = orm.Share.grant(self.db, spawner, recipient)
        except Refused as refused:
            self._emit("share.refused", request, "refused", reason=refused.reason, why=str(refused))
            raise
        self._emit("share.granted", request, "succeeded")
        return share

    def _check(self, request: ShareRequest) -> None:
        policy = SharingPolicy(config=self.settings["config"])
        subdomain_host = self.settings.get("subdomain_host") or ""
        facts = self.project_facts(request.project)
        policy.check(request, facts, subdomain_host, date.today())
        self._check_token(request.owner, request.project)

    def _check_token(self, owner: str, project: str) -> None:
        """Guests run code as the owner and can read the server's own token: it must not do."""
        if not self.has_scope(f"servers!server={owner}/{project}"):
            raise Refused("token-scope", Text("This token may not manage that server."))

    def _spawner(self, owner: str, project: str) -> orm.Spawner:
        user = self.find_user(owner)
        return user.get_or_create_spawner(project, "").orm_spawner

    def _recipient(self, request: ShareRequest) -> orm.User | orm.Group:
        found = (
            orm.User.find(self.db, request.user)
            if request.user
            else orm.Group.find(self.db, request.group)
        )
        if found is None:  # the policy checked membership: this is a race with a deletion
            raise Refused("gone", Text("{recipient} no longer exists.",
                                       recipient=request.recipient), status=409)  # fmt: skip
        return found

    def revoke(self, owner: str, project: str, user: str | None, group: str | None) -> bool:
        """Drop a share; its owner, or the user it was granted to, may. True if one went."""
        actor = self.actor()
        if actor not in (owner, user):
            raise Refused("not-owner", Text("Only {owner} can change who shares their server.",
                                            owner=owner))  # fmt: skip
        if actor == owner:  # a recipient leaving needs no more than their own login
            self._check_token(owner, project)
        request = ShareRequest(actor, owner, project, user, group)
        share = self._find(owner, project, user, group)
        if share is None:
            return False
        revocation.drop_share(self.db, share)
        self.db.commit()
        self._emit("share.revoked", request, "succeeded", reason=f"revoked by {actor}")
        return True

    def _find(self, owner, project, user, group) -> orm.Share | None:
        owner_user = orm.User.find(self.db, owner)
        spawner = owner_user.orm_spawners.get(project) if owner_user else None
        recipient = orm.User.find(self.db, user) if user else orm.Group.find(self.db, group or "")
        if spawner is None or recipient is None:
            return None
        return orm.Share.find(self.db, spawner, recipient)

    def shares_of(self, owner: str, project: str) -> list[dict[str, Any]]:
        owner_user = orm.User.find(self.db, owner)
        spawner = owner_user.orm_spawners.get(project) if owner_user else None
        if spawner is None:
            return []
        shares = self.db.query(orm.Share).filter_by(spawner_id=spawner.id).all()
        models = [self.share_model(share) for share in shares]
        return sorted(models, key=lambda m: ("group" in m, m.get("user") or m.get("group")))

    def shared_with_me(self) -> list[dict[str, Any]]:
        """Servers shared with the current user that the policy still allows, by owner."""
        rows, today = [], date.today()
        for share in self.current_user.orm_user.all_shared_with_me:
            user = share.user.name if share.user else None
            group = share.group.name if share.group else None
            owner, server = share.owner.name, share.spawner.name
            facts = self.project_facts(server)
            if owner != self.current_user.name and not share_problem(
                owner, server, user, group, facts, today
            ):
                rows.append(self.share_model(share))
        return sorted(rows, key=lambda m: (m["owner"], m["project"]))

    def share_model(self, share: orm.Share) -> dict[str, Any]:
        owner = self._user_from_orm(share.owner)
        spawner = owner.spawners[share.spawner.name]
        model = {
            "owner": owner.name,
            "project": share.spawner.name,
            "url": owner.server_url(share.spawner.name),
            "ready": bool(spawner.ready),
            "created_at": share.created_at.isoformat() + "Z",
        }
        if share.user:
            model["user"] = share.user.name
        else:
            model["group"] = share.group.name
        return model

    def _emit(self, action: str, request: ShareRequest, outcome: str, **details: Any) -> None:
        recipient = {"user": request.user} if request.user else {"group": request.group}
        events.emit(
            action,
            actor=self.actor(),
            outcome=outcome,
            project=request.project,
            target=f"{request.owner}/{request.project}",
            source=client_address(self.request),
            details={**recipient, **details},
        )


class ShareAPIHandler(SharingMixin, APIHandler):
    """The shares of one project server."""

    def _user_or_403(self):
        if self.current_user is None or self.current_user.kind != "user":
            raise web.HTTPError(403, "Only people share their servers; log in.")

    def _refuse(self, refused: Refused):
        self.set_status(refused.status)
        message = i18n.for_request(self.request).translate(refused)
        self.finish({"status": refused.status, "reason": refused.reason, "message": message})

    async def get(self, owner: str, project: str):
        self._user_or_403()
        if self.current_user.name != owner:
            raise web.HTTPError(403, f"Only {owner} can see who shares their server.")
        try:
            self._check_token(owner, project)
        except Refused as refused:
            return self._refuse(refused)
        self.finish({"shares": self.shares_of(owner, project)})

    async def post(self, owner: str, project: str):
        self._user_or_403()
        body = self.get_json_body() or {}
        if not isinstance(body, dict) or set(body) - {"user", "group"}:
            raise web.HTTPError(400, 'Send {"user": "<member>"} or {"group": "<project>"}.')
        request = ShareRequest(self.actor(), owner, project, body.get("user"), body.get("group"))
        try:
            share = self.grant(request)
        except Refused as refused:
            return self._refuse(refused)
        self.finish(self.share_model(share))

    async def delete(self, owner: str, project: str):
        self._user_or_403()
        user, group = self.get_argument("user", None), self.get_argument("group", None)
        if (user is None) == (group is None):
            raise web.HTTPError(400, "Name one ?user= or one ?group= to stop sharing with.")
        try:
            self.revoke(owner, project, user, group)
        except Refused as refused:
            return self._refuse(refused)
        self.set_status(204)
        self.finish()


class SharedWithMeAPIHandler(SharingMixin, APIHandler):
    async def get(self):
        if self.current_user is None or self.current_user.kind != "user":
            raise web.HTTPError(403, "Log in to see the servers shared with you.")
        self.finish({"shared_with_me": self.shared_with_me()})


class SharingPageHandler(SharingMixin, BaseHandler):
    """/hub/hds/sharing: share one's project servers, open those shared with one."""

    @web.authenticated
    async def get(self):
        await self._render()

    @web.authenticated
    async def post(self):
        project = self.get_body_argument("project", "")
        user = self.get_body_argument("user", None) or None
        group = self.get_body_argument("group", None) or None
        action = self.get_body_argument("action", "")
        language = i18n.for_request(self.request)
        message, error = "", ""
        try:
            if action == "share":
                self.grant(ShareRequest(self.actor(), self.current_user.name, project, user, group))
                message = Text("{project}: shared with {user}.", project=project, user=user)
            elif action == "unshare":
                owner = self.get_body_argument("owner", self.current_user.name)
                self.revoke(owner, project, user, group)
                message = Text("{project}: no longer shared with {user}.", project=project,
                               user=user)  # fmt: skip
            else:
                raise Refused("bad-request", Text("Unknown action."), status=400)
        except Refused as refused:
            self.set_status(refused.status)
            error = refused.translate(language.gettext, language.ngettext)
        await self._render(message=language.translate(message), error=error)

    async def _render(self, message: str = "", error: str = ""):
        try:
            policy = SharingPolicy(config=self.settings["config"])
            policy.check_hub(self.settings.get("subdomain_host") or "")
            unavailable = ""
        except Refused as refused:
            unavailable = i18n.for_request(self.request).translate(refused)
        html = await self.render_template(
            "sharing.html",
            projects=self._project_rows(),
            shared_with_me=self.shared_with_me(),
            message=message,
            error=error,
            unavailable=unavailable,
        )
        self.finish(html)

    def _project_rows(self) -> list[dict[str, Any]]:
        me = self.current_user
        rows = []
        for group in sorted(me.orm_user.groups, key=lambda g: g.name):
            if not is_project(dict(group.properties or {})):
                continue
            shares = self.shares_of(me.name, group.name)
            rows.append(
                {
                    "name": group.name,
                    "others": sorted(u.name for u in group.users if u.name != me.name),
                    "shared_users": {s["user"] for s in shares if "user" in s},
                }
            )
        return rows


HANDLERS = [
    (rf"/api/hds/shares/({NAME})/({NAME})", ShareAPIHandler),
    (r"/api/hds/shared-with-me", SharedWithMeAPIHandler),
    (r"/hds/sharing", SharingPageHandler),
]
