"""Nobody adds themself to a group: the rule, and the routes it guards."""

from __future__ import annotations

import pytest
from jupyterhub.apihandlers import groups

from jupyter_hds.projects import membership


@pytest.mark.parametrize(
    ("case_id", "requester", "added", "refused"),
    [
        ("adds themself", "ada", ["ada"], True),
        ("adds themself among others", "ada", ["bob", "ada"], True),
        ("adds someone else", "ada", ["bob"], False),
        ("a service (not a person)", None, ["ada"], False),
        ("no list: JupyterHub answers 400", "ada", "ada", False),
    ],
)
def test_self_addition_is_refused(case_id, requester, added, refused):
    assert bool(membership.self_addition(requester, added)) == refused


def test_every_jupyterhub_route_that_adds_members_is_guarded():
    adding = {groups.GroupListAPIHandler, groups.GroupAPIHandler, groups.GroupUsersAPIHandler}
    expected = {pattern for pattern, cls in groups.default_handlers if cls in adding}
    assert {pattern for pattern, _ in membership.HANDLERS} == expected
    for _, guard in membership.HANDLERS:
        assert issubclass(guard, tuple(adding)) and "post" in vars(guard)
