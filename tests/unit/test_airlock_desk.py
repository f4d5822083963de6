"""The airlock desk on a real release area: the whole story of a request, audited step by step."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from jupyter_hds import events
from jupyter_hds.airlock import desk as desk_module
from jupyter_hds.airlock.desk import ReleaseDesk
from jupyter_hds.airlock.freeze import Sources
from jupyter_hds.airlock.store import ReleaseStore
from jupyter_hds.policy.access import ProjectFacts
from jupyter_hds.policy.airlock import Airlock, parse_draft
from jupyter_hds.policy.refusal import Refused

TABLE = b"age_band,sex,count\n40-44,F,12\n40-44,M,3\n"
FIXED = b"age_band,sex,count\n40-44,F,12\n40-44,M,<11\n"
FACTS = ProjectFacts.of("cohort", {"plan": "public", "dataset": "cohort"}, ["rosa", "lou"])


@pytest.fixture
def recorded():
    seen: list[events.Event] = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)


@pytest.fixture
def setup(tmp_path):
    work = tmp_path / "projects" / "cohort" / "users" / "rosa"
    work.mkdir(parents=True)
    (tmp_path / "projects" / "cohort" / "shared").mkdir()
    sources = Sources(tmp_path / "projects", "cohort", "rosa", None)
    desk = ReleaseDesk(ReleaseStore(tmp_path / "releases"), Airlock())
    return desk, sources, work


def ask(desk, sources, work, data, *, replaces=None, path="work/t.csv", owner="rosa", **extra):
    (work / path.split("/", 1)[1]).write_bytes(data)
    body = {"project": "cohort", "purpose": "Table 2", "replaces": replaces, **extra,
            "files": [{"path": path, "description": "counts", "min_cell_size": 11,
                       "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]}  # fmt: skip
    draft = parse_draft(body, max_files=20, max_bytes=10**6)
    return desk.submit(owner, draft, FACTS, sources, "public", source_ip="10.0.0.2")


def nobody_is_member(checker, project):
    return False


def test_the_whole_story_of_a_release(setup, recorded):
    desk, sources, work = setup
    first = ask(desk, sources, work, TABLE)
    assert first["status"] == "submitted"
    assert [f["check"]["flags"][0]["code"] for f in first["files"]] == ["small-count"]
    desk.decide("carl", first["id"], "request-changes", "The 3 in row 2 is under 11.",
                nobody_is_member)  # fmt: skip
    assert desk.requester_view(desk.store.load(first["id"]))["comments"] == []  # not yet
    after = desk.decide("dora", first["id"], "approve", "", nobody_is_member)
    assert after["status"] == "changes-requested"
    comments = desk.requester_view(after)["comments"]
    assert [(c["author"], c["text"]) for c in comments] == [
        ("carl", "The 3 in row 2 is under 11."), ("dora", "")]  # fmt: skip

    second = ask(desk, sources, work, FIXED, replaces=first["id"])
    assert desk.store.load(first["id"])["status"] == "withdrawn"
    assert desk.store.load(first["id"])["replaced_by"] == second["id"]
    desk.decide("dora", second["id"], "approve", "", nobody_is_member)
    released = desk.decide("carl", second["id"], "approve", "fine now", nobody_is_member)
    assert released["status"] == "released"
    (work / "t.csv").write_bytes(b"edited afterwards\n")
    got = desk.download("rosa", second["id"], 1, lambda project: FACTS)
    assert (got.name, got.data) == ("t.csv", FIXED)
    assert desk.store.load(second["id"])["downloads"][0]["person"] == "rosa"

    story = [(e.action, e.actor, e.outcome, e.target) for e in recorded]
    assert story == [
        ("airlock.requested", "rosa", "succeeded", first["id"]),
        ("airlock.checked", "service:jupyterhub", "succeeded", first["id"]),
        ("airlock.changes-requested", "carl", "succeeded", first["id"]),
        ("airlock.approved", "dora", "succeeded", first["id"]),
        ("airlock.requested", "rosa", "succeeded", second["id"]),
        ("airlock.checked", "service:jupyterhub", "succeeded", second["id"]),
        ("airlock.approved", "dora", "succeeded", second["id"]),
        ("airlock.approved", "carl", "succeeded", second["id"]),
        ("airlock.released", "service:jupyterhub", "succeeded", second["id"]),
        ("airlock.downloaded", "rosa", "succeeded", second["id"]),
    ]
    sha = hashlib.sha256(FIXED).hexdigest()
    by_action = {e.action: e for e in recorded}
    assert by_action["airlock.requested"].details["files"] == [
        {"path": "work/t.csv", "size": len(FIXED), "sha256": sha}]  # fmt: skip
    assert by_action["airlock.requested"].details["replaces"] == first["id"]
    assert by_action["airlock.released"].details["checkers"] == ["dora", "carl"]
    assert by_action["airlock.released"].details["comments"]["carl"] == "fine now"
    assert by_action["airlock.downloaded"].details == {
        "path": "work/t.csv", "size": len(FIXED), "sha256": sha}  # fmt: skip
    assert recorded[2].details["comment"] == "The 3 in row 2 is under 11."
    assert all(e.project == "cohort" for e in recorded)


@pytest.mark.parametrize(
    "case_id, checker, first_voter, reason",
    [("own-request", "rosa", None, "own-request"), ("twice", "carl", "carl", "voted-twice")],
)
def test_refused_votes_change_nothing_and_are_recorded(
    setup, recorded, case_id, checker, first_voter, reason
):
    desk, sources, work = setup
    record = ask(desk, sources, work, TABLE)
    if first_voter:
        desk.decide(first_voter, record["id"], "approve", "", nobody_is_member)
    before = desk.store.load(record["id"])
    with pytest.raises(Refused) as refused:
        desk.decide(checker, record["id"], "approve", "", nobody_is_member)
    assert refused.value.reason == reason
    assert desk.store.load(record["id"]) == before
    assert (recorded[-1].action, recorded[-1].outcome, recorded[-1].details["reason"]) == (
        "airlock.approved", "refused", reason)  # fmt: skip


def test_a_member_checker_is_refused_by_default(setup):
    desk, sources, work = setup
    record = ask(desk, sources, work, TABLE)
    with pytest.raises(Refused, match="member of project cohort"):
        desk.decide("lou", record["id"], "approve", "", lambda c, p: p == "cohort")


def test_a_request_from_outside_the_project_is_refused_and_recorded(setup, recorded):
    desk, sources, work = setup
    with pytest.raises(Refused) as refused:
        ask(desk, sources, work, TABLE, owner="eve")
    assert refused.value.reason == "not-member"
    assert (recorded[-1].action, recorded[-1].outcome, recorded[-1].actor) == (
        "airlock.requested", "refused", "eve")  # fmt: skip
    assert recorded[-1].details["files"][0]["path"] == "work/t.csv"
    assert desk.store.all() == []


def test_only_ones_own_open_request_is_replaced(setup):
    desk, sources, work = setup
    record = ask(desk, sources, work, TABLE)
    with pytest.raises(Refused) as refused:
        ask(desk, sources, work, TABLE, replaces="20990101-000000")
    assert refused.value.reason == "unknown"
    with pytest.raises(Refused) as refused:
        ask(desk, sources, work, TABLE, replaces=record["id"], owner="lou")
    assert refused.value.reason == "not-requester"
    assert [r["id"] for r in desk.store.all()] == [record["id"]]


def test_downloads_follow_the_release(setup, recorded, monkeypatch):
    desk, sources, work = setup
    record = ask(desk, sources, work, TABLE)
    with pytest.raises(Refused) as early:
        desk.download("rosa", record["id"], 1, lambda p: FACTS)
    assert early.value.reason == "not-released"
    desk.decide("carl", record["id"], "approve", "", nobody_is_member)
    desk.decide("dora", record["id"], "approve", "", nobody_is_member)
    with pytest.raises(Refused) as colleague:
        desk.download("lou", record["id"], 1, lambda p: FACTS)
    assert colleague.value.reason == "not-yours"
    later = datetime.now(UTC) + timedelta(days=8)
    monkeypatch.setattr(desk_module, "now", lambda: later)
    with pytest.raises(Refused) as expired:
        desk.download("rosa", record["id"], 1, lambda p: FACTS)
    assert (expired.value.reason, expired.value.status) == ("expired", 410)
    assert desk.requester_view(desk.store.load(record["id"]))["status"] == "expired"
    refusals = [e.details["reason"] for e in recorded if e.outcome == "refused"]
    assert refusals == ["not-released", "not-yours", "expired"]


def test_a_damaged_frozen_copy_is_never_handed_out(setup):
    desk, sources, work = setup
    record = ask(desk, sources, work, TABLE, share_with_project=True)
    desk.decide("carl", record["id"], "approve", "", nobody_is_member)
    desk.decide("dora", record["id"], "approve", "", nobody_is_member)
    assert desk.download("lou", record["id"], 1, lambda p: FACTS).data == TABLE  # shared
    desk.store.blob(record["id"], 1).write_bytes(b"tampered\n")
    with pytest.raises(Refused) as refused:
        desk.download("rosa", record["id"], 1, lambda p: FACTS)
    assert refused.value.reason == "damaged"


def test_a_plan_of_one_approval_releases_on_the_first(setup):
    desk, sources, work = setup
    desk.settings = Airlock(plans={"public": {"approvals": 1}})
    record = ask(desk, sources, work, TABLE)
    assert record["approvals_required"] == 1
    assert desk.decide("carl", record["id"], "approve", "", nobody_is_member)["status"] == (
        "released")  # fmt: skip


def test_checkers_see_only_their_own_vote_until_all_are_in(setup):
    desk, sources, work = setup
    record = ask(desk, sources, work, TABLE)
    desk.decide("carl", record["id"], "reject", "row-level data", nobody_is_member)
    stored = desk.store.load(record["id"])
    assert desk.checker_view(stored, "dora")["votes"] == []
    assert desk.checker_view(stored, "dora")["votes_in"] == 1
    assert [v["checker"] for v in desk.checker_view(stored, "carl")["votes"]] == ["carl"]
    desk.decide("dora", record["id"], "approve", "", nobody_is_member)
    decided = desk.checker_view(desk.store.load(record["id"]), "dora")
    assert decided["status"] == "rejected" and len(decided["votes"]) == 2
