"""Who may share a project server with whom, and which existing shares must go."""

from __future__ import annotations

from datetime import date

import pytest
from traitlets.config import Config

from jupyter_hds.policy.access import ProjectFacts
from jupyter_hds.policy.refusal import Refused
from jupyter_hds.policy.sharing import ShareRequest, SharingPolicy, share_problem

TODAY = date(2026, 11, 28)
ALPHA = {"plan": "public", "dataset": "alpha-data"}
MEMBERS = {"alice", "carol"}
HOST = "https://hub.example.org"


def facts(properties, members=MEMBERS):
    return None if properties is None else ProjectFacts.of("alpha", properties, members)


def policy(**settings) -> SharingPolicy:
    config = Config()
    for key, value in settings.items():
        setattr(config.SharingPolicy, key, value)
    return SharingPolicy(config=config)


@pytest.mark.parametrize(
    "case_id, request_, properties, host, expected",
    [
        ("member", ShareRequest("alice", "alice", "alpha", user="carol"), ALPHA, HOST, None),
        (
            "whole-project",
            ShareRequest("alice", "alice", "alpha", group="alpha"),
            ALPHA,
            HOST,
            "group",
        ),
        (
            "non-member",
            ShareRequest("alice", "alice", "alpha", user="bob"),
            ALPHA,
            HOST,
            "not-member",
        ),
        (
            "unknown-user",
            ShareRequest("alice", "alice", "alpha", user="nobody"),
            ALPHA,
            HOST,
            "not-member",
        ),
        (
            "other-group",
            ShareRequest("alice", "alice", "alpha", group="beta"),
            ALPHA,
            HOST,
            "group",
        ),
        (
            "admins-group",
            ShareRequest("alice", "alice", "alpha", group="hds-admins"),
            ALPHA,
            HOST,
            "group",
        ),
        (
            "someone-elses-server",
            ShareRequest("carol", "alice", "alpha", user="carol"),
            ALPHA,
            HOST,
            "not-owner",
        ),
        (
            "service",
            ShareRequest("service:ops", "alice", "alpha", user="carol"),
            ALPHA,
            HOST,
            "not-owner",
        ),
        ("self", ShareRequest("alice", "alice", "alpha", user="alice"), ALPHA, HOST, "self"),
        ("nobody-named", ShareRequest("alice", "alice", "alpha"), ALPHA, HOST, "bad-request"),
        (
            "both-named",
            ShareRequest("alice", "alice", "alpha", "carol", "alpha"),
            ALPHA,
            HOST,
            "bad-request",
        ),
        (
            "no-such-project",
            ShareRequest("alice", "alice", "alpha", user="carol"),
            None,
            HOST,
            "no-project",
        ),
        (
            "not-a-project",
            ShareRequest("alice", "alice", "alpha", user="carol"),
            {"colour": "red"},
            HOST,
            "not-a-project",
        ),
        (
            "expired",
            ShareRequest("alice", "alice", "alpha", user="carol"),
            {**ALPHA, "expires": "2026-11-27"},
            HOST,
            "expired",
        ),
        (
            "last-day",
            ShareRequest("alice", "alice", "alpha", user="carol"),
            {**ALPHA, "expires": "2026-11-28"},
            HOST,
            None,
        ),
        (
            "garbled-expiry",
            ShareRequest("alice", "alice", "alpha", user="carol"),
            {**ALPHA, "expires": "soon"},
            HOST,
            "invalid-project",
        ),
        (
            "no-subdomains",
            ShareRequest("alice", "alice", "alpha", user="carol"),
            ALPHA,
            "",
            "no-origin-isolation",
        ),
    ],
)
def test_grant_policy(case_id, request_, properties, host, expected):
    try:
        policy().check(request_, facts(properties), host, TODAY)
    except Refused as refused:
        assert refused.reason == expected, str(refused)
    else:
        assert expected is None, f"{case_id} was allowed"


def test_owner_who_left_cannot_share():
    request = ShareRequest("alice", "alice", "alpha", user="carol")
    with pytest.raises(Refused) as refused:
        policy().check(request, facts(ALPHA, {"carol"}), HOST, TODAY)
    assert refused.value.reason == "not-member"
    assert refused.value.message == "alice is not a member of project alpha"


def test_messages_say_what_is_wrong_and_what_to_do():
    request = ShareRequest("alice", "alice", "alpha", user="bob")
    with pytest.raises(Refused) as refused:
        policy().check(request, facts(ALPHA), HOST, TODAY)
    assert str(refused.value) == (
        "bob is not a member of project alpha A project server can only be shared with "
        "members of that project."
    )
    with pytest.raises(Refused, match="must set c.JupyterHub.subdomain_host"):
        policy().check(request, facts(ALPHA), "", TODAY)


def test_operator_may_accept_a_single_origin_or_turn_sharing_off():
    request = ShareRequest("alice", "alice", "alpha", user="carol")
    policy(require_origin_isolation=False).check(request, facts(ALPHA), "", TODAY)
    with pytest.raises(Refused) as refused:
        policy(enabled=False).check(request, facts(ALPHA), HOST, TODAY)
    assert refused.value.reason == "disabled"


GROUPS = {
    "alpha": ProjectFacts.of("alpha", ALPHA, {"alice", "carol"}),
    "beta": ProjectFacts.of("beta", ALPHA, {"bob"}),
    "ended": ProjectFacts.of("ended", {**ALPHA, "expires": "2026-11-01"}, {"alice", "carol"}),
}


@pytest.mark.parametrize(
    "case_id, owner, server, user, group, expected",
    [
        ("member-share", "alice", "alpha", "carol", None, None),
        ("project-share", "alice", "alpha", None, "alpha", None),
        ("recipient-left", "alice", "alpha", "dave", None, "dave is not a member of project alpha"),
        ("owner-left", "erin", "alpha", "carol", None, "erin is not a member of project alpha"),
        ("project-closed", "alice", "gone", "carol", None, "there is no project gone"),
        ("project-ended", "alice", "ended", "carol", None, "project ended ended on 2026-11-01"),
        ("foreign-group", "alice", "alpha", None, "beta", "group beta is not project alpha"),
    ],
)
def test_existing_share_validity(case_id, owner, server, user, group, expected):
    problem = share_problem(owner, server, user, group, GROUPS.get(server), TODAY)
    assert (problem is None) if expected is None else (expected in problem.message)
