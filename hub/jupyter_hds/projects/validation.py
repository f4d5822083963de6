"""Projects are checked when they are written: properties and membership, whoever writes them.

The admin panel, the REST API, `hds project` and `load_groups` all change groups through the
hub's database; a listener on its sessions checks each project group before the change is
flushed and refuses it (HTTP 400, the message `hds project check` prints) when it is
invalid: an unknown plan, a dataset that is a path or does not exist, an unreadable date, an
unknown property, or more members than the plan allows. Groups that became invalid later
(a dataset removed, a plan dropped from the config) are not touched: their members and the
hosting team see the problem, and the spawner refuses their servers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyterhub import orm
from sqlalchemy import event
from sqlalchemy.orm import Session, attributes
from tornado import web
from traitlets.config import Config

from hds_quota.plans import Plans

from ..deployment import Deployment
from ..policy.projects import ProjectRules, ProjectSettings, is_project
from ..policy.refusal import Refused


class ProjectWrites:
    """The check, with the rules of the hub's configuration."""

    def __init__(self, config: Config):
        self.rules = ProjectRules(
            Plans(config=config), ProjectSettings(config=config), Deployment(config=config).datasets
        )

    def check(self, name: str, properties: dict[str, Any], members: int, change: Change) -> None:
        """Raise Refused when a project group may not be written this way: new properties
        must be valid and allow its members; members may be added up to the plan's limit,
        and always removed."""
        if change.properties:
            self.rules.parse(name, properties, onboarding=True)
        elif not change.members_added:
            return
        try:
            plan = self.rules.plans.get(str(properties.get("plan", "")))
        except ValueError:
            return  # an invalid project: its problem shows wherever it is used
        if members > plan.members:
            raise Refused(
                "quota-members",
                f"Project '{name}' cannot have {members} members: its plan "
                f"({plan.name}) allows {plan.members}.",
                "Remove members or move the project to a larger plan first.",
                status=400,
            )


@dataclass(frozen=True)
class Change:
    """What a flush changes of a group."""

    properties: bool
    members_added: bool


def _history(obj, name: str):
    return attributes.get_history(obj, name, attributes.PASSIVE_NO_INITIALIZE)


def _touched(session: Session) -> dict[orm.Group, Change]:
    """Groups whose properties this flush writes or to which it adds members (through the
    group or through a user's groups)."""
    changes: dict[orm.Group, Change] = {}
    for group in (obj for obj in session.new | session.dirty if isinstance(obj, orm.Group)):
        properties = group in session.new or bool(_history(group, "properties").added)
        added = bool(_history(group, "users").added)
        if properties or added:
            changes[group] = Change(properties, added)
    for user in (obj for obj in session.dirty if isinstance(obj, orm.User)):
        for group in _history(user, "groups").added or ():
            changes[group] = Change(changes.get(group, Change(False, True)).properties, True)
    return changes


def hub_config() -> Config:
    """The running hub's configuration (its plans, images, state folder)."""
    from jupyterhub.app import JupyterHub

    return JupyterHub.instance().config if JupyterHub.initialized() else Config()


def listener(config: Callable[[], Config]):
    writes: list[ProjectWrites] = []

    def before_flush(session: Session, flush_context, instances) -> None:
        with session.no_autoflush:
            for group, change in _touched(session).items():
                properties = dict(group.properties or {})
                if group in session.deleted or not is_project(properties):
                    continue
                if not writes:  # the rules of the config the hub runs with, read once
                    writes.append(ProjectWrites(config()))
                try:
                    writes[0].check(group.name, properties, len(group.users), change)
                except Refused as refused:
                    # Nothing of the refused change stays in the session for the next request.
                    if group in session.new:
                        session.expunge(group)
                    else:
                        session.expire(group, ["properties", "users"])
                    raise web.HTTPError(400, str(refused), reason=refused.reason) from None

    return before_flush


_installed: list = []


def install(config: Callable[[], Config] = hub_config) -> None:
    """Check project writes in every session of this process (again: replaces the listener)."""
    for old in _installed:
        if event.contains(Session, "before_flush", old):
            event.remove(Session, "before_flush", old)
    _installed[:] = [listener(config)]
    event.listen(Session, "before_flush", _installed[0])


def uninstall() -> None:
    """Stop checking (tests that need a process without the hub's rules)."""
    for old in _installed:
        if event.contains(Session, "before_flush", old):
            event.remove(Session, "before_flush", old)
    _installed.clear()
