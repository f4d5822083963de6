"""Nobody adds themself to a group: the hosting team cannot give itself access to a project.

A member of `hds-admins` may change any group's members, so without this check they could
join a project and open its dataset, or join `auditors`. Every route of JupyterHub's REST API
that adds members (the admin panel calls the same routes) refuses, with 403, a request whose
sender is among the users it adds: another admin must do it, and the audit record names
both (the request log records the sender and the body's users).

These handlers take JupyterHub's own group routes (read from its handler list, so an upgrade
that moves them stops the hub instead of silently skipping the check) and must be routed
before them: the login subsystem's authenticator registers them, since JupyterHub routes an
authenticator's handlers first and `extra_handlers` after its own (app.py, `init_handlers`).
"""

from __future__ import annotations

from typing import Any

from jupyterhub.apihandlers import groups
from jupyterhub.scopes import needs_scope
from tornado import web


def self_addition(requester: str | None, added: Any) -> str | None:
    """Why a request by user `requester` adding users `added` is refused, or None."""
    if requester is None or not isinstance(added, list) or requester not in added:
        return None
    return (
        f"{requester} cannot add themself to a group: another admin must add them, so that "
        "joining a project (and reaching its data) always takes two people"
    )


def refuse_self_addition(handler: web.RequestHandler, added: Any) -> None:
    user = handler.current_user
    person = user.name if user is not None and getattr(user, "kind", "") == "user" else None
    problem = self_addition(person, added)
    if problem:
        raise web.HTTPError(403, problem)


def _users_in(body: Any) -> Any:
    return body.get("users") if isinstance(body, dict) else None


class GroupListGuard(groups.GroupListAPIHandler):
    @needs_scope("admin:groups")
    async def post(self):
        refuse_self_addition(self, _users_in(self.get_json_body()))
        return await super().post()


class GroupGuard(groups.GroupAPIHandler):
    @needs_scope("admin:groups")
    async def post(self, group_name):
        refuse_self_addition(self, _users_in(self.get_json_body()))
        return await super().post(group_name)


class GroupUsersGuard(groups.GroupUsersAPIHandler):
    @needs_scope("groups")
    def post(self, group_name):
        refuse_self_addition(self, _users_in(self.get_json_body()))
        return super().post(group_name)


def _routes() -> list[tuple[str, type]]:
    """JupyterHub's routes for the guarded handlers, each with its guard."""
    guards = {guard.__mro__[1]: guard for guard in (GroupListGuard, GroupGuard, GroupUsersGuard)}
    routes = [(pattern, guards[cls]) for pattern, cls in groups.default_handlers if cls in guards]
    if len(routes) != len(guards):
        raise RuntimeError(
            "JupyterHub's group routes changed: jupyter_hds.projects.membership no longer "
            f"guards every route that adds members ({routes}); update it before running the hub"
        )
    return routes


HANDLERS = _routes()
