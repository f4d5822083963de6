"""May this person use this project today: the one rule behind starting, keeping and sharing.

The spawner asks it before a server starts, the project guard for every running server,
sharing for the owner and the person let in, share revocation when membership changes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from .projects import BadProperty, Project, ProjectRules, expiry, is_project
from .refusal import Refused
from .text import Text


@dataclass(frozen=True)
class ProjectFacts:
    """A hub group as the rules need it: its name, properties and members' names."""

    name: str
    properties: Mapping[str, Any]
    members: frozenset[str]

    @classmethod
    def of(cls, name: str, properties: Mapping[str, Any] | None, members: Collection[str]):
        return cls(name, dict(properties or {}), frozenset(members))

    @classmethod
    def from_model(cls, model: Mapping[str, Any]) -> ProjectFacts:
        """From the hub's REST group model (`name`, `users`, `properties`)."""
        return cls.of(model["name"], model.get("properties"), model.get("users") or ())


def check_access(person: str | None, project: str, facts: ProjectFacts | None, today: date):
    """Raise Refused unless `person` may use `project` today.

    `facts` are the group named `project` (None: there is none). With `person` None, only
    the project itself is checked (it exists, is a project and has not ended).
    """
    if not project:
        raise Refused(
            "no-project", Text("every server belongs to a project"),
            Text("Open one of your projects from the home page."),
        )  # fmt: skip
    if facts is None:
        raise Refused(
            "no-project", Text("there is no project {project} (closed, or never made)",
                               project=project),
        )  # fmt: skip
    if not is_project(facts.properties):
        raise Refused(
            "not-a-project", Text("group {project} is not set up as a project", project=project),
            Text("An administrator must set its `plan` and `dataset` properties."),
        )  # fmt: skip
    if person is not None and person not in facts.members:
        raise Refused(
            "not-member",
            Text("{person} is not a member of project {project}", person=person, project=project),
            Text("An administrator must add {person} to the project's group if they should be.",
                 person=person),
        )  # fmt: skip
    try:
        ends = expiry(facts.properties)
    except BadProperty as error:
        raise Refused(
            "invalid-project", Text("project {project} has an unreadable end date",
                                    project=project),
            Text("An administrator must {fix}.", fix=error.text),
        ) from None  # fmt: skip
    if ends is not None and today > ends:
        raise Refused(
            "expired", Text("project {project} ended on {date}", project=project, date=ends),
            Text("An administrator must extend its `expires` property or close it."),
        )  # fmt: skip


def access_problem(
    person: str | None, project: str, facts: ProjectFacts | None, today: date
) -> Refused | None:
    """The refusal `check_access` would raise, or None: for sweeps that look at many."""
    try:
        check_access(person, project, facts, today)
    except Refused as refused:
        return refused
    return None


def startable_project(
    rules: ProjectRules, person: str | None, project: str, facts: ProjectFacts | None,
    today: date,
) -> Project:  # fmt: skip
    """The project a server of `person` may start for today, checked whole; or Refused, in
    the words a member reads (`Project 'x' cannot start: ...`)."""
    try:
        check_access(person, project, facts, today)
    except Refused as refused:
        why = Text(
            "Project '{project}' cannot start: {why}.",
            project=project or "(none)",
            why=refused.message_text,
        )
        raise Refused(refused.reason, why, refused.fix_text) from None
    assert facts is not None  # check_access refuses a missing group
    return rules.parse(project, facts.properties)


def project_refusal(
    rules: ProjectRules, person: str | None, project: str, facts: ProjectFacts | None,
    today: date,
) -> Refused | None:  # fmt: skip
    """The refusal `startable_project` would raise, or None: for pages that translate it."""
    try:
        startable_project(rules, person, project, facts, today)
    except Refused as refused:
        return refused
    return None


def project_problem(
    rules: ProjectRules, person: str | None, project: str, facts: ProjectFacts | None,
    today: date,
) -> str:  # fmt: skip
    """Empty when `startable_project` would succeed, else the message a member would read."""
    refused = project_refusal(rules, person, project, facts, today)
    return str(refused) if refused else ""
