"""The airlock's rules: requests checked, states and their transitions, votes, releases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jupyter_hds.policy import airlock as rules
from jupyter_hds.policy.access import ProjectFacts
from jupyter_hds.policy.airlock import Airlock, Review, parse_draft
from jupyter_hds.policy.refusal import Refused

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SHA = "a" * 64
FACTS = ProjectFacts.of("cohort", {"plan": "public", "dataset": "cohort"}, ["rosa", "lou"])


def body(**changes):
    request = {
        "project": "cohort",
        "purpose": "Table 2 of the paper",
        "files": [
            {
                "path": "work/t.csv",
                "description": "counts by age band",
                "min_cell_size": 12,
                "size": 40,
                "sha256": SHA,
            }
        ],  # fmt: skip
        "notebook_outputs": "strip",
        "share_with_project": False,
        "replaces": None,
    }
    request.update(changes)
    return request


def review(status=rules.SUBMITTED, required=2, votes=(), **changes) -> Review:
    return Review("20261130-abcdef", "cohort", "rosa", status, required, tuple(votes), **changes)


def vote(review_, checker, decision=rules.APPROVE, comment="", **kw) -> Review:
    return rules.decide(review_, checker, decision, comment, NOW, checker_is_member=False,
                        members_may_review=False, **kw)  # fmt: skip


# ---------------------------------------------------------------- the request's fields


def test_a_good_request_is_parsed():
    draft = parse_draft(body(), max_files=20, max_bytes=1000)
    assert (draft.project, draft.size, draft.files[0].folder, draft.files[0].inside) == (
        "cohort", 40, "work", "t.csv")  # fmt: skip


@pytest.mark.parametrize(
    "case_id, changes, reason, status",
    [
        ("no-files", {"files": []}, "empty", 400),
        ("dataset", {"files": [{**body()["files"][0], "path": "dataset/patients.parquet"}]},
         "dataset", 403),
        ("outside", {"files": [{**body()["files"][0], "path": "notebooks/x.csv"}]}, "outside", 403),
        ("home-root", {"files": [{**body()["files"][0], "path": "work"}]}, "outside", 403),
        ("dotdot", {"files": [{**body()["files"][0], "path": "work/../dataset/p.parquet"}]},
         "bad-request", 400),
        ("absolute", {"files": [{**body()["files"][0], "path": "/etc/passwd"}]}, "bad-request", 400),
        ("bad-sha", {"files": [{**body()["files"][0], "sha256": "xyz"}]}, "bad-request", 400),
        ("twice", {"files": [body()["files"][0]] * 2}, "bad-request", 400),
        ("unknown-field", {"extra": 1}, "bad-request", 400),
        ("no-purpose", {"purpose": " "}, "bad-request", 400),
        ("too-large", {"files": [{**body()["files"][0], "size": 5000}]}, "too-large", 413),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_with_the_fix(case_id, changes, reason, status):
    with pytest.raises(Refused) as refused:
        parse_draft(body(**changes), max_files=20, max_bytes=1000)
    assert (refused.value.reason, refused.value.status) == (reason, status)


def test_the_size_refusal_names_the_limit():
    with pytest.raises(Refused, match=r"at most 1,000 bytes \(c.Airlock.max_request_bytes\)"):
        parse_draft(body(files=[{**body()["files"][0], "size": 5000}]), max_files=20,
                    max_bytes=1000)  # fmt: skip


# --------------------------------------------------------------------- transitions


@pytest.mark.parametrize("current", rules.STATES)
@pytest.mark.parametrize("target", rules.STATES)
def test_every_transition_is_allowed_or_refused_as_the_table_says(current, target):
    if target in rules.TRANSITIONS[current]:
        rules.check_transition(current, target)
    else:
        with pytest.raises(Refused) as refused:
            rules.check_transition(current, target)
        assert (refused.value.reason, refused.value.status) == ("bad-transition", 409)


def test_final_states_lead_nowhere():
    for state in (rules.RELEASED, rules.REJECTED, rules.WITHDRAWN):
        assert not rules.TRANSITIONS[state]


# --------------------------------------------------------------------------- votes


@pytest.mark.parametrize(
    "case_id, decisions, required, status",
    [
        ("one-of-two", [rules.APPROVE], 2, rules.IN_REVIEW),
        ("two-approvals", [rules.APPROVE, rules.APPROVE], 2, rules.APPROVED),
        ("one-asks-changes", [rules.APPROVE, rules.REQUEST_CHANGES], 2, rules.CHANGES_REQUESTED),
        ("one-rejects", [rules.REQUEST_CHANGES, rules.REJECT], 2, rules.REJECTED),
        ("plan-of-one", [rules.APPROVE], 1, rules.APPROVED),
        ("plan-of-one-changes", [rules.REQUEST_CHANGES], 1, rules.CHANGES_REQUESTED),
    ],
)
def test_the_outcome_waits_for_every_vote(case_id, decisions, required, status):
    current = review(required=required)
    for number, decision in enumerate(decisions):
        current = vote(current, f"checker{number}", decision, "why")
    assert current.status == status


def test_a_requester_never_approves_their_own_request():
    with pytest.raises(Refused) as refused:
        vote(review(), "rosa")
    assert refused.value.reason == "own-request"


def test_a_checker_approving_twice_is_refused_and_nothing_changes():
    once = vote(review(), "carl")
    with pytest.raises(Refused) as refused:
        vote(once, "carl")
    assert (refused.value.reason, refused.value.status) == ("voted-twice", 409)
    assert [v.checker for v in once.votes] == ["carl"] and once.status == rules.IN_REVIEW


def test_two_approvals_must_come_from_two_checkers():
    once = vote(review(), "carl")
    with pytest.raises(Refused):
        vote(once, "carl")
    assert vote(once, "dora").status == rules.APPROVED


@pytest.mark.parametrize("allowed, refused_reason", [(False, "member"), (True, None)])
def test_a_project_member_reviews_only_if_the_operator_allows(allowed, refused_reason):
    def member_vote():
        return rules.decide(review(), "lou", rules.APPROVE, "", NOW, checker_is_member=True,
                            members_may_review=allowed)  # fmt: skip

    if refused_reason:
        with pytest.raises(Refused) as refused:
            member_vote()
        assert refused.value.reason == refused_reason
    else:
        assert member_vote().votes[0].checker == "lou"


@pytest.mark.parametrize(
    "status", [rules.CHANGES_REQUESTED, rules.REJECTED, rules.APPROVED, rules.RELEASED,
               rules.WITHDRAWN],
)  # fmt: skip
def test_only_open_requests_take_votes(status):
    with pytest.raises(Refused) as refused:
        vote(review(status=status), "carl")
    assert (refused.value.reason, refused.value.status) == ("not-open", 409)


@pytest.mark.parametrize(
    "decision, comment", [("maybe", "x"), (rules.REQUEST_CHANGES, ""), (rules.REJECT, " ")]
)
def test_a_decision_is_one_of_three_and_a_refusal_says_why(decision, comment):
    with pytest.raises(Refused) as refused:
        vote(review(), "carl", decision, comment)
    assert refused.value.status == 400


def test_votes_are_hidden_from_the_other_checker_until_both_have_decided():
    once = vote(review(), "carl", rules.REQUEST_CHANGES, "the 3 in row 2")
    assert rules.visible_votes(once, "dora") == ()
    assert [v.checker for v in rules.visible_votes(once, "carl")] == ["carl"]
    assert not once.decided
    twice = vote(once, "dora")
    assert [v.checker for v in rules.visible_votes(twice, "dora")] == ["carl", "dora"]
    assert twice.decided


# ------------------------------------------------------------- release, withdrawal


def approved() -> Review:
    return vote(vote(review(), "carl"), "dora")


def test_an_approved_request_is_released_for_the_configured_days():
    released = rules.release(approved(), NOW, 7)
    assert (released.status, released.expires) == (rules.RELEASED, NOW + timedelta(days=7))
    assert rules.shown_status(released, NOW + timedelta(days=6)) == rules.RELEASED
    assert rules.shown_status(released, NOW + timedelta(days=7)) == rules.EXPIRED


def test_only_an_approved_request_is_released():
    with pytest.raises(Refused):
        rules.release(vote(review(), "carl"), NOW, 7)


def test_the_requester_withdraws_an_open_request_nobody_else_does():
    assert rules.withdraw(review(), "rosa", "next").status == rules.WITHDRAWN
    assert rules.withdraw(review(), "rosa", "next").replaced_by == "next"
    with pytest.raises(Refused) as refused:
        rules.withdraw(review(), "lou")
    assert refused.value.reason == "not-requester"
    with pytest.raises(Refused) as closed:
        rules.withdraw(approved(), "rosa")
    assert closed.value.reason == "not-open"


@pytest.mark.parametrize(
    "case_id, person, shared, days, reason",
    [
        ("requester", "rosa", False, 1, None),
        ("member-shared", "lou", True, 1, None),
        ("member-not-shared", "lou", False, 1, "not-yours"),
        ("outsider-shared", "eve", True, 1, "not-member"),
        ("expired", "rosa", False, 8, "expired"),
    ],
)
def test_who_downloads_a_release_and_until_when(case_id, person, shared, days, reason):
    released = replace(rules.release(approved(), NOW, 7), share_with_project=shared)
    when = NOW + timedelta(days=days)
    if reason is None:
        rules.check_download(released, person, FACTS, when, when.date())
    else:
        with pytest.raises(Refused) as refused:
            rules.check_download(released, person, FACTS, when, when.date())
        assert refused.value.reason == reason


def test_nothing_is_downloaded_before_release():
    with pytest.raises(Refused) as refused:
        rules.check_download(approved(), "rosa", FACTS, NOW, date(2026, 11, 30))
    assert refused.value.reason == "not-released"


# -------------------------------------------------------------------------- settings


def test_rules_come_from_the_project_over_the_plan_over_the_defaults():
    config = Config()
    config.Airlock.plans = {"public": {"approvals": 1, "threshold": 7, "rounding": 5}}
    config.Airlock.projects = {"cohort": {"threshold": 15}}
    airlock = Airlock(config=config)
    assert airlock.rules_for("public", "cohort") == rules.DisclosureRules(15, 5, 1)
    assert airlock.rules_for("public", "other") == rules.DisclosureRules(7, 5, 1)
    assert airlock.rules_for("private", "other") == rules.DisclosureRules(10, 0, 2)


@pytest.mark.parametrize(
    "case_id, trait, value",
    [
        ("approvals-zero", "approvals", 0),
        ("negative-threshold", "threshold", -1),
        ("unknown-key", "plans", {"public": {"approval": 1}}),
        ("project-approvals", "projects", {"cohort": {"approvals": 1}}),
        ("bad-number", "plans", {"public": {"threshold": "ten"}}),
        ("bad-pattern", "pseudonym_pattern", "["),
    ],
)
def test_bad_settings_say_what_to_write(case_id, trait, value):
    with pytest.raises(TraitError, match="Airlock"):
        Airlock(**{trait: value})
