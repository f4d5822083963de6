"""Shares die with the membership that allowed them, in the same database transaction.

When someone leaves a project (admin panel, REST API, `hds project`, a login that syncs
groups) or the project's group is deleted, every share of that project's servers that the
access rule (`policy.sharing.share_problem`) no longer allows is deleted before the change
is committed: shares granted to the person who left and shares they granted on their own
server. The hub
computes scopes per request, so their access to those servers ends with that commit.

The listeners are registered on SQLAlchemy's Session class by `install()`, which the
sharing subsystem's `configure` calls; registering twice is harmless.
"""

from __future__ import annotations

import asyncio
from datetime import date

from jupyterhub import orm
from sqlalchemy import event
from sqlalchemy.orm import Session, attributes

from .. import events
from ..policy.access import ProjectFacts
from ..policy.sharing import share_problem

PENDING = "hds_share_revocations"


def _projects_touched(session: Session) -> set[str]:
    """Names of groups that lost a member, or were deleted, in this flush."""
    touched = set()
    for obj in session.dirty:
        # The hub flushes users often (activity): look at changes only, never load anything.
        if isinstance(obj, orm.Group):
            history = attributes.get_history(obj, "users", attributes.PASSIVE_NO_INITIALIZE)
            if history.deleted:
                touched.add(obj.name)
        elif isinstance(obj, orm.User):
            history = attributes.get_history(obj, "groups", attributes.PASSIVE_NO_INITIALIZE)
            touched.update(group.name for group in history.deleted or ())
    touched.update(obj.name for obj in session.deleted if isinstance(obj, orm.Group))
    return touched


def _facts(session: Session, name: str) -> ProjectFacts | None:
    group = orm.Group.find(session, name)
    if group is None or group in session.deleted:
        return None
    return ProjectFacts.of(name, group.properties, [user.name for user in group.users])


def drop_share(session: Session, share: orm.Share) -> None:
    """Delete `share` and take it out of the collections the hub computes scopes from."""
    session.delete(share)
    for holder in (share.user, share.group):
        if holder is not None and share in holder.shared_with_me:
            holder.shared_with_me.remove(share)


def before_flush(session: Session, flush_context, instances) -> None:
    projects = _projects_touched(session)
    if not projects:
        return
    today = date.today()
    with session.no_autoflush:
        facts = {name: _facts(session, name) for name in projects}
        shares = (
            session.query(orm.Share)
            .join(orm.Spawner, orm.Share.spawner_id == orm.Spawner.id)
            .filter(orm.Spawner.name.in_(projects))
            .all()
        )
        codes = (
            session.query(orm.ShareCode)
            .join(orm.Spawner, orm.ShareCode.spawner_id == orm.Spawner.id)
            .filter(orm.Spawner.name.in_(projects))
            .all()
        )
        for share in shares:
            user = share.user.name if share.user else None
            group = share.group.name if share.group else None
            owner, server = share.owner.name, share.spawner.name
            problem = share_problem(owner, server, user, group, facts[server], today)
            if problem:
                recipient = {"user": user} if user else {"group": group}
                pending = (owner, server, recipient, problem.message)
                session.info.setdefault(PENDING, []).append(pending)
                drop_share(session, share)
        for code in codes:
            # Share codes are never issued (no one holds the `shares` scope); any found goes.
            owner, server = code.owner.name, code.spawner.name
            if share_problem(owner, server, None, None, facts[server], today):
                session.delete(code)


def after_commit(session: Session) -> None:
    """Emit the revocations once committed, outside the commit: listeners may use the database."""
    pending = session.info.pop(PENDING, [])
    if not pending:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        emit_revocations(pending)
    else:
        loop.call_soon(emit_revocations, pending)


def emit_revocations(pending: list) -> None:
    for owner, server, recipient, reason in pending:
        events.emit(
            "share.revoked",
            actor="service:jupyterhub",
            outcome="succeeded",
            project=server,
            target=f"{owner}/{server}",
            details={**recipient, "reason": reason},
        )


def after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def install() -> None:
    """Register the listeners on every SQLAlchemy session of this process (idempotent)."""
    for name, listener in (
        ("before_flush", before_flush),
        ("after_commit", after_commit),
        ("after_rollback", after_rollback),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
