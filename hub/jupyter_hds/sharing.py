"""Who may share a project server with whom: members of the same project, never anyone else.

A share lets other people into one's own project server (JupyterHub's `orm.Share`, scope
`access:servers!server=<owner>/<project>`): they edit the same notebooks live and run code
as the owner. The rules, checked at grant time and again whenever membership changes:

- only the server's owner shares it, and only while a member of its project;
- with a named member of the same project; nobody else (no groups, no share codes);
- only when user servers have their own web origins (`c.JupyterHub.subdomain_host`),
  unless the operator explicitly accepts the risk.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from traitlets import Bool
from traitlets.config import LoggingConfigurable

from .projects import expiry, is_project

# Members of a project (group) by name; None when there is no such group.
MembersOf = Callable[[str], Collection[str] | None]


class ShareRefused(Exception):
    """A share is not allowed; `str()` is the message shown to the person who asked."""

    def __init__(self, reason: str, message: str, status: int = 403):
        self.reason, self.status = reason, status
        super().__init__(message)


@dataclass(frozen=True)
class ShareRequest:
    """Someone (`actor`) asks to let `user` into `owner`'s `project` server (`group`: refused)."""

    actor: str
    owner: str
    project: str
    user: str | None = None
    group: str | None = None

    @property
    def recipient(self) -> str:
        return f"user {self.user}" if self.user else f"group {self.group}"


def why_invalid(
    owner: str, server: str, user: str | None, group: str | None, members_of: MembersOf
) -> str | None:
    """Why an existing share of `owner`'s `server` must go, or None while it may stay."""
    members = members_of(server)
    if members is None:
        return f"project {server} was closed"
    if owner not in members:
        return f"{owner} is no longer a member of {server}"
    if user is not None and user not in members:
        return f"{user} is no longer a member of {server}"
    if group is not None and group != server:
        return f"group {group} is not project {server}"
    return None


class SharingPolicy(LoggingConfigurable):
    """Sharing project servers between members of the same project."""

    enabled = Bool(
        True,
        help="""Let project members share their project server with other members of the
        same project (live co-editing). False refuses every new share.""",
    ).tag(config=True)

    require_origin_isolation = Bool(
        True,
        help="""Refuse sharing unless user servers run on their own subdomains
        (c.JupyterHub.subdomain_host). Without them every server shares the hub's web origin:
        a page in a server someone visits can act on the visitor's other servers and on the
        hub in their name. Set False only on a hub whose members all trust each other, and
        read docs/collaboration.md first.""",
    ).tag(config=True)

    def check(
        self,
        request: ShareRequest,
        properties: dict[str, Any] | None,
        members: Collection[str],
        subdomain_host: str,
        today: date,
    ) -> None:
        """Raise ShareRefused unless `request` may be granted.

        `properties` are the project group's (None: no such group), `members` its members.
        """
        self._check_hub(subdomain_host)
        if request.actor != request.owner:
            raise ShareRefused("not-owner", f"Only {request.owner} can share their own server.")
        if (request.user is None) == (request.group is None):
            raise ShareRefused("bad-request", 'Name one "user" or one "group" to share with.', 400)
        self._check_project(request, properties, members, today)
        if request.user is not None:
            if request.user == request.owner:
                raise ShareRefused("self", "Your server is already yours: pick another member.")
            if request.user not in members:
                raise ShareRefused(
                    "not-member",
                    f"{request.user} is not a member of project {request.project}: a project "
                    "server can only be shared with members of that project.",
                )
        else:
            # JupyterHub 6.1 grants group shares to a person's own scopes but not to their
            # tokens, and browsers reach servers with tokens: a group share would not work.
            raise ShareRefused(
                "group",
                f"Share with members of {request.project} by name, one at a time.",
                400,
            )

    def check_hub(self, subdomain_host: str) -> None:
        """Raise ShareRefused when this hub does not allow sharing at all."""
        self._check_hub(subdomain_host)

    def _check_hub(self, subdomain_host: str) -> None:
        if not self.enabled:
            raise ShareRefused("disabled", "Sharing is turned off on this hub.")
        if self.require_origin_isolation and not subdomain_host:
            raise ShareRefused(
                "no-origin-isolation",
                "Sharing is turned off on this hub: user servers do not have their own web "
                "origins. The operator must set c.JupyterHub.subdomain_host "
                "(docs/collaboration.md).",
            )

    def _check_project(
        self,
        request: ShareRequest,
        properties: dict[str, Any] | None,
        members: Collection[str],
        today: date,
    ) -> None:
        project = request.project
        if properties is None or not is_project(properties):
            raise ShareRefused("no-project", f"{project} is not a project: nothing to share.")
        if request.owner not in members:
            raise ShareRefused(
                "owner-not-member", f"You are not a member of project {project}.", 403
            )
        try:
            expires = expiry(properties)
        except ValueError:  # unreadable: no access, as for starting a server
            expires = date.min
        if expires is not None and today > expires:
            raise ShareRefused("expired", f"Project {project} has ended ({properties['expires']}).")
