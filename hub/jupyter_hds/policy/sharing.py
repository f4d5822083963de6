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

from dataclasses import dataclass
from datetime import date

from traitlets import Bool
from traitlets.config import LoggingConfigurable

from .access import ProjectFacts, check_access
from .refusal import Refused
from .text import Text


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


def share_problem(
    owner: str, server: str, user: str | None, group: str | None,
    facts: ProjectFacts | None, today: date,
) -> Refused | None:  # fmt: skip
    """Why an existing share of `owner`'s `server` must go, or None while it may stay: the
    owner and the person let in must both still be allowed to use the project."""
    try:
        check_access(owner, server, facts, today)
        if user is not None:
            check_access(user, server, facts, today)
    except Refused as refused:
        return refused
    if group is not None and group != server:
        return Refused("group", Text("group {group} is not project {project}", group=group,
                                     project=server))  # fmt: skip
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
        facts: ProjectFacts | None,
        subdomain_host: str,
        today: date,
    ) -> None:
        """Raise Refused unless `request` may be granted (`facts`: the project's group)."""
        self.check_hub(subdomain_host)
        if request.actor != request.owner:
            raise Refused("not-owner", Text("Only {owner} can share their own server.",
                                            owner=request.owner))  # fmt: skip
        if (request.user is None) == (request.group is None):
            raise Refused("bad-request", Text('Name one "user" or one "group" to share with.'),
                          status=400)  # fmt: skip
        check_access(request.owner, request.project, facts, today)
        if request.group is not None:
            # JupyterHub 6.1 grants group shares to a person's own scopes but not to their
            # tokens, and browsers reach servers with tokens: a group share would not work.
            raise Refused(
                "group", Text("Share with members of {project} by name, one at a time.",
                              project=request.project),
                status=400,
            )  # fmt: skip
        if request.user == request.owner:
            raise Refused("self", Text("Your server is already yours: pick another member."))
        try:
            check_access(request.user, request.project, facts, today)
        except Refused as refused:
            raise Refused(
                refused.reason, refused.message_text,
                Text("A project server can only be shared with members of that project."),
            ) from None  # fmt: skip

    def check_hub(self, subdomain_host: str) -> None:
        """Raise Refused when this hub does not allow sharing at all."""
        if not self.enabled:
            raise Refused("disabled", Text("Sharing is turned off on this hub."))
        if self.require_origin_isolation and not subdomain_host:
            raise Refused(
                "no-origin-isolation",
                Text("Sharing is turned off on this hub: user servers do not have their own "
                     "web origins."),
                Text("The operator must set c.JupyterHub.subdomain_host "
                     "(docs/collaboration.md)."),
            )  # fmt: skip
