"""Hub groups the provider changes: the hosting team's, and projects when it owns membership.

A hub group that carries a role (`auditors`, `hds-admins`, any group in a role of
`c.JupyterHub.load_roles`) grants that role to its members, so a provider group of the same
name must not fill it: with `manage_groups`, those groups keep the members the hub gave them,
unless the operator lists them in `provider_role_groups`. The hosting team's group follows
`admin_provider_groups` when that is set. Every change is an audit event naming the person.
"""

from __future__ import annotations

from collections.abc import Iterable

from jupyterhub import orm
from sqlalchemy.orm import Session

from .. import events


def role_groups(db: Session) -> set[str]:
    """The hub groups that carry a role: membership in them is a permission."""
    return {group.name for role in db.query(orm.Role) for group in role.groups}


def managed(provider: Iterable[str], current: Iterable[str], protected: set[str]) -> list[str]:
    """A person's hub groups when the provider owns membership (`manage_groups`).

    The provider's groups, except the protected ones (groups with a role the operator did not
    hand to the provider), which keep what the hub has: the person stays in those they are in.
    """
    return sorted((set(provider) - protected) | (set(current) & protected))


def set_member(db: Session, user: orm.User, group_name: str, member: bool, actor: str) -> None:
    """Put `user` in `group_name` or take them out, creating the group; record the change."""
    group = orm.Group.find(db, group_name)
    if group is None:
        group = orm.Group(name=group_name)
        db.add(group)
    if member == (user in group.users):
        return
    if member:
        group.users.append(user)
    else:
        group.users.remove(user)
    db.commit()
    record(
        actor,
        user.name,
        added=[group_name] if member else [],
        removed=[] if member else [group_name],
    )


def record(actor: str, name: str, added: Iterable[str], removed: Iterable[str]) -> None:
    """One audit event per group the provider's claims put `name` in or took them out of."""
    for action, groups in (("group.members.add", added), ("group.members.remove", removed)):
        for group in sorted(groups):
            events.emit(
                action,
                actor=actor,
                outcome="succeeded",
                project=group,
                target=group,
                details={"user": name, "reason": "provider groups claim"},
            )


def apply(auth, db: Session, user: orm.User, auth_model: dict) -> None:
    """After a login or refresh: the hosting team's group from `admin_provider_groups`; with
    `manage_groups`, role groups kept as the hub has them unless in `provider_role_groups`."""
    actor = f"provider:{auth.issuer}"
    if auth.admin_provider_groups:
        staff = bool(auth.claimed_groups(auth_model) & auth.admin_provider_groups)
        set_member(db, user, auth.staff_group, staff, actor)
    if auth.manage_groups and auth_model.get("groups") is not None:
        current = {group.name for group in user.groups}
        protected = role_groups(db) - auth.provider_role_groups
        auth_model["groups"] = managed(auth_model["groups"], current, protected)
        new = set(auth_model["groups"])
        record(actor, user.name, added=new - current, removed=current - new)
