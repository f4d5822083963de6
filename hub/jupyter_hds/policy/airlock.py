"""The airlock's rules: what a release request holds, its states, who may act in each, expiry.

A researcher asks for files to leave a project; the hub freezes a copy; output checkers
review it independently; what enough of them approve is released to the requester (and,
if asked, the project's members) for a limited time. States (after OpenSAFELY Airlock's):

    submitted ──vote──> in-review ──all votes in──> approved ──> released ··(time)··> expired
        │                   │                  └──> changes-requested   (the requester resubmits)
        │                   │                  └──> rejected
        └───────────────────┴──> withdrawn   (the requester resubmits or withdraws)

Checkers vote without seeing each other's votes; the outcome is decided once the votes the
plan requires are in: every vote approves → approved; any rejection → rejected; otherwise
(someone asked for changes) → changes-requested. The requester never reviews their own
request; a member of the project reviews it only where the operator allows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from traitlets import Bool, Dict, Integer, TraitError, Unicode, validate
from traitlets.config import LoggingConfigurable

from .access import ProjectFacts, check_access
from .refusal import Refused

SUBMITTED = "submitted"
IN_REVIEW = "in-review"
CHANGES_REQUESTED = "changes-requested"
REJECTED = "rejected"
APPROVED = "approved"
RELEASED = "released"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"  # shown, never stored: a release past its end
STATES = (SUBMITTED, IN_REVIEW, CHANGES_REQUESTED, REJECTED, APPROVED, RELEASED, WITHDRAWN)
TRANSITIONS: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({IN_REVIEW, APPROVED, CHANGES_REQUESTED, REJECTED, WITHDRAWN}),
    IN_REVIEW: frozenset({APPROVED, CHANGES_REQUESTED, REJECTED, WITHDRAWN}),
    CHANGES_REQUESTED: frozenset({WITHDRAWN}),
    APPROVED: frozenset({RELEASED}),
    RELEASED: frozenset(),
    REJECTED: frozenset(),
    WITHDRAWN: frozenset(),
}
# Who acts in each state (OpenSAFELY's STATUS_OWNERS): checkers vote, the requester may
# resubmit or withdraw, the hub releases what was approved.
OPEN_FOR_REVIEW = (SUBMITTED, IN_REVIEW)
REPLACEABLE = (SUBMITTED, IN_REVIEW, CHANGES_REQUESTED)

APPROVE, REQUEST_CHANGES, REJECT = "approve", "request-changes", "reject"
DECISIONS = (APPROVE, REQUEST_CHANGES, REJECT)
NOTEBOOK_OUTPUTS = ("strip", "keep")
RELEASE_FOLDERS = ("work", "shared")
DATASET_FOLDER = "dataset"
REQUEST_FIELDS = ("project", "purpose", "files", "notebook_outputs", "share_with_project",
                  "replaces")  # fmt: skip
FILE_FIELDS = ("path", "description", "min_cell_size", "size", "sha256")
MAX_TEXT = 4000
MAX_PATH = 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
RULE_KEYS = ("threshold", "rounding", "approvals")


def check_transition(current: str, target: str) -> None:
    """Raise Refused unless a request may go from `current` to `target`."""
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none: it is final"
        raise Refused(
            "bad-transition", f"A {current} request cannot become {target}.",
            f"From {current} it can become: {allowed}.", status=409,
        )  # fmt: skip


# ----------------------------------------------------------------------- what is asked


@dataclass(frozen=True)
class FileClaim:
    """One file as the researcher's server describes it: where, what, and its size and sha256."""

    path: str
    description: str
    min_cell_size: int | None
    size: int
    sha256: str

    @property
    def folder(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def inside(self) -> str:
        """The path inside its folder (`x/y.csv` for `work/x/y.csv`)."""
        return self.path.split("/", 1)[1]


@dataclass(frozen=True)
class Draft:
    """A release request whose fields are valid; nothing is read from disk yet."""

    project: str
    purpose: str
    files: tuple[FileClaim, ...]
    notebook_outputs: str
    share_with_project: bool
    replaces: str | None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def parse_draft(body: Any, *, max_files: int, max_bytes: int) -> Draft:
    """Check a request's fields, as the hub receives them; raise Refused saying what to fix."""
    if not isinstance(body, dict):
        raise _bad("The request must be a JSON object with the fields "
                   + ", ".join(REQUEST_FIELDS) + ".")  # fmt: skip
    _no_unknown(body, REQUEST_FIELDS, "the request")
    project = body.get("project")
    if not isinstance(project, str) or not project:
        raise _bad("Name the project the request is for (`project`).")
    purpose = _text(body.get("purpose"), "the purpose", "Write the purpose of the release.")
    files = _files(body.get("files"), max_files)
    draft = Draft(
        project=project,
        purpose=purpose,
        files=files,
        notebook_outputs=_choice(body.get("notebook_outputs", "strip")),
        share_with_project=_flag(body.get("share_with_project", False)),
        replaces=_replaces(body.get("replaces")),
    )
    if draft.size > max_bytes:
        raise too_large(draft.size, max_bytes)
    return draft


def too_large(size: int, limit: int) -> Refused:
    return Refused(
        "too-large",
        f"These files come to {describe_size(size)}; a request may hold at most "
        f"{describe_size(limit)} (c.Airlock.max_request_bytes).",
        "Release fewer or smaller files, such as summary tables rather than row-level data.",
        status=413,
    )


def describe_size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size:,} bytes"
    return f"{size / 1024 / 1024:.1f} MiB ({size:,} bytes)"


def check_path(path: Any) -> str:
    """`path` as `work/...` or `shared/...`, plain components only; or Refused."""
    if not isinstance(path, str) or not path:
        raise _bad("Each file needs a `path` relative to the home folder, e.g. work/table.csv.")
    parts = path.split("/")
    if "\x00" in path or len(path) > MAX_PATH or path.startswith("/"):
        raise _bad(f"{path[:100]!r}: write the path relative to the home folder, e.g. "
                   "work/table.csv.")  # fmt: skip
    if any(part in ("", ".", "..") for part in parts):
        raise _bad(f"{path}: empty, '.' and '..' parts are not allowed; name the file as it "
                   "appears in your work or shared folder.")  # fmt: skip
    if parts[0] == DATASET_FOLDER:
        raise Refused(
            "dataset", f"{path} is in the project dataset: dataset files never leave the "
            "project.", "Release your own results, saved in work/ or shared/.",
        )  # fmt: skip
    if parts[0] not in RELEASE_FOLDERS or len(parts) < 2:
        raise Refused(
            "outside", f"{path} is not in your work/ or shared/ folder: only files there can "
            "be released.", "Save the result in work/ first.",
        )  # fmt: skip
    return str(PurePosixPath(path))


def _files(value: Any, max_files: int) -> tuple[FileClaim, ...]:
    if not isinstance(value, list) or not value:
        raise Refused(
            "empty",
            "The request names no file.",
            "Choose at least one file in your work or shared folder.",
            status=400,
        )
    if len(value) > max_files:
        raise _bad(f"A request holds at most {max_files} files (c.Airlock.max_files); this "
                   f"one has {len(value)}. Split it into several requests.")  # fmt: skip
    files = tuple(_file(item) for item in value)
    paths = [f.path for f in files]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise _bad(f"{', '.join(twice)} listed more than once; list each file once.")
    return files


def _file(item: Any) -> FileClaim:
    if not isinstance(item, dict):
        raise _bad("Each file is an object: path, description, min_cell_size, size, sha256.")
    path = check_path(item.get("path"))
    _no_unknown(item, FILE_FIELDS, f"the entry for {path}")
    description = _text(
        item.get("description"),
        f"the description of {path}",
        f"Describe {path}: what the numbers are, on which population.",
    )
    size, sha256 = item.get("size"), item.get("sha256")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _bad(f"The size of {path} must be its length in bytes.")
    if not isinstance(sha256, str) or not SHA256.match(sha256):
        raise _bad(f"The sha256 of {path} must be 64 lowercase hexadecimal digits.")
    cell = item.get("min_cell_size")
    if cell is not None and (isinstance(cell, bool) or not isinstance(cell, int) or cell < 0):
        raise _bad(f"The smallest count of {path} must be a whole number, or null.")
    return FileClaim(path, description, cell, size, sha256)


def _text(value: Any, name: str, missing: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(missing)
    if len(value) > MAX_TEXT:
        raise _bad(f"{name.capitalize()} is {len(value)} characters long; keep it under "
                   f"{MAX_TEXT}.")  # fmt: skip
    return value.strip()


def _choice(value: Any) -> str:
    if value not in NOTEBOOK_OUTPUTS:
        raise _bad("notebook_outputs must be 'strip' or 'keep'.")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad("share_with_project must be true or false.")
    return value


def _replaces(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _bad("replaces must be the id of an earlier request of yours, or null.")
    return value


def _no_unknown(obj: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise _bad(f"Unknown field(s) in {where}: {', '.join(unknown)}. "
                   f"The fields are: {', '.join(known)}.")  # fmt: skip


def _bad(message: str) -> Refused:
    return Refused("bad-request", message, status=400)


# ------------------------------------------------------------------- the review itself


@dataclass(frozen=True)
class Vote:
    """One checker's decision, with the comment the requester reads once all votes are in."""

    checker: str
    decision: str
    comment: str
    time: datetime


@dataclass(frozen=True)
class Review:
    """A request as the rules see it: whose, which project, its state and votes."""

    id: str
    project: str
    requester: str
    status: str
    approvals_required: int
    votes: tuple[Vote, ...] = ()
    share_with_project: bool = False
    released: datetime | None = None
    expires: datetime | None = None
    replaced_by: str | None = None

    @property
    def decided(self) -> bool:
        """Whether the votes are in (or the request left review): votes are shown from here."""
        return self.status not in OPEN_FOR_REVIEW


def outcome(votes: tuple[Vote, ...], required: int) -> str:
    """The request's state once these votes are cast."""
    if len(votes) < required:
        return IN_REVIEW
    decisions = {v.decision for v in votes}
    if REJECT in decisions:
        return REJECTED
    if REQUEST_CHANGES in decisions:
        return CHANGES_REQUESTED
    return APPROVED


def decide(
    review: Review, checker: str, decision: str, comment: str, now: datetime, *,
    checker_is_member: bool, members_may_review: bool,
) -> Review:  # fmt: skip
    """`checker`'s vote on `review`, and the state it leads to; or Refused, changing nothing."""
    if decision not in DECISIONS:
        raise _bad(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}.")
    comment = (comment or "").strip()
    if decision != APPROVE and not comment:
        raise _bad("Say why in a comment: the requester reads it to fix the request.")
    if len(comment) > MAX_TEXT:
        raise _bad(f"The comment is {len(comment)} characters long; keep it under {MAX_TEXT}.")
    if checker == review.requester:
        raise Refused(
            "own-request", f"{checker} asked for this release and cannot review it.",
            "Another output checker must review it.",
        )  # fmt: skip
    if checker_is_member and not members_may_review:
        raise Refused(
            "member", f"{checker} is a member of project {review.project} and may not review "
            "its releases.", "An output checker from outside the project must review it "
            "(or the operator sets c.Airlock.members_may_review = True).",
        )  # fmt: skip
    if review.status not in OPEN_FOR_REVIEW:
        raise Refused("not-open", f"Request {review.id} is {review.status}: it takes no more "
                      "votes.", status=409)  # fmt: skip
    if any(v.checker == checker for v in review.votes):
        raise Refused("voted-twice", f"{checker} has already voted on request {review.id}.",
                      "Each checker votes once; another checker casts the next vote.",
                      status=409)  # fmt: skip
    votes = (*review.votes, Vote(checker, decision, comment, now))
    target = outcome(votes, review.approvals_required)
    if target != review.status:
        check_transition(review.status, target)
    return replace(review, votes=votes, status=target)


def release(review: Review, now: datetime, days: int) -> Review:
    """An approved request, released: downloadable from `now` for `days` days."""
    check_transition(review.status, RELEASED)
    return replace(review, status=RELEASED, released=now, expires=now + timedelta(days=days))


def withdraw(review: Review, person: str, replaced_by: str | None = None) -> Review:
    """The requester takes a request back (resubmitting a new one, or not)."""
    if person != review.requester:
        raise Refused("not-requester", f"Only {review.requester}, who asked, can withdraw "
                      f"request {review.id}.")  # fmt: skip
    if review.status not in REPLACEABLE:
        raise Refused(
            "not-open", f"Request {review.id} is {review.status} and can no longer be "
            "withdrawn or replaced.", "Make a new request instead.", status=409,
        )  # fmt: skip
    check_transition(review.status, WITHDRAWN)
    return replace(review, status=WITHDRAWN, replaced_by=replaced_by)


def shown_status(review: Review, now: datetime) -> str:
    """The state people see: a release past its end shows as expired."""
    if review.status == RELEASED and review.expires is not None and now >= review.expires:
        return EXPIRED
    return review.status


def visible_votes(review: Review, viewer: str) -> tuple[Vote, ...]:
    """The votes `viewer` may see: their own until every vote is in, then all of them."""
    if review.decided:
        return review.votes
    return tuple(v for v in review.votes if v.checker == viewer)


def files_kept_until(
    status: str, ended: datetime | None, expires: datetime | None, keep_days: int
) -> datetime | None:
    """When a request's frozen copies may be deleted; None while it may still be reviewed,
    resubmitted or downloaded, or when copies are kept (`keep_days` 0)."""
    if keep_days == 0:
        return None
    if status == RELEASED and expires is not None:
        return expires + timedelta(days=keep_days)
    if status in (REJECTED, WITHDRAWN) and ended is not None:
        return ended + timedelta(days=keep_days)
    return None


def check_download(
    review: Review, person: str, facts: ProjectFacts | None, now: datetime, today: date
) -> None:
    """Raise Refused unless `person` may download `review`'s released files now."""
    status = shown_status(review, now)
    if status == EXPIRED:
        raise Refused(
            "expired",
            f"Release {review.id} ended on {review.expires:%Y-%m-%d}.",
            "Ask for a new release if you still need the files.",
            status=410,
        )
    if status != RELEASED:
        raise Refused("not-released", f"Request {review.id} is {status}: nothing is released.",
                      status=404)  # fmt: skip
    if person != review.requester and not review.share_with_project:
        raise Refused("not-yours", f"Release {review.id} is for {review.requester} only.",
                      f"Ask {review.requester} to share it (a new request).")  # fmt: skip
    check_access(person, review.project, facts, today)


# ------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class DisclosureRules:
    """What the automatic checks flag and how many approvals a release needs, for one project."""

    threshold: int
    rounding: int
    approvals: int


class Airlock(LoggingConfigurable):
    """The airlock: disclosure thresholds, approvals, sizes and how long releases last."""

    threshold = Integer(
        10,
        help="""Counts from 1 to this value are flagged to reviewers (French practice: counts
        under 11 are not released). Per plan or project: c.Airlock.plans, c.Airlock.projects.""",
    ).tag(config=True)

    rounding = Integer(
        0,
        help="""When above 0, counts that are not a multiple of it are flagged (OpenSAFELY
        rounds to 5). 0: no rounding expected.""",
    ).tag(config=True)

    approvals = Integer(
        2, help="Approvals from distinct output checkers a release needs, unless its plan says."
    ).tag(config=True)

    plans = Dict(
        help="""Per plan: {"public": {"approvals": 1, "threshold": 10, "rounding": 5}}; keys
        left out take the values above.""",
    ).tag(config=True)

    projects = Dict(
        help="""Per project, over its plan's: {"cohort-2024": {"threshold": 5}}. Only
        threshold and rounding: the number of approvals is the plan's.""",
    ).tag(config=True)

    max_request_bytes = Integer(
        5 * 1024 * 1024, help="Largest total size of the files of one request (default 5 MiB)."
    ).tag(config=True)

    max_files = Integer(20, help="Most files in one request.").tag(config=True)

    release_days = Integer(
        7, help="Days an approved release can be downloaded, from its approval."
    ).tag(config=True)

    keep_days = Integer(
        90,
        help="""Days the frozen copies of a finished request are kept after it ended (its
        release's end, its rejection or withdrawal); `hds airlock purge` then deletes them.
        Its record stays: file names, sizes, sha256, votes and comments. 0: keep them.""",
    ).tag(config=True)

    members_may_review = Bool(
        False,
        help="""Let output checkers who are members of a project review its requests (never
        their own). Off: reviewers come from outside the project.""",
    ).tag(config=True)

    pseudonym_pattern = Unicode(
        r"^[0-9a-f]{20}$",
        help="""A regular expression matching the dataset import's pseudonyms (20 lowercase
        hex digits): a column of them is flagged as identifiers.""",
    ).tag(config=True)

    @validate("threshold", "rounding", "keep_days")
    def _not_negative(self, proposal):
        if proposal.value < 0:
            raise TraitError(f"Airlock.{proposal.trait.name} is {proposal.value}; write 0 or more")
        return proposal.value

    @validate("approvals", "max_request_bytes", "max_files", "release_days")
    def _positive(self, proposal):
        if proposal.value < 1:
            raise TraitError(f"Airlock.{proposal.trait.name} is {proposal.value}; write 1 or more")
        return proposal.value

    @validate("plans", "projects")
    def _rules(self, proposal):
        allowed = RULE_KEYS if proposal.trait.name == "plans" else RULE_KEYS[:2]
        for name, rules in proposal.value.items():
            where = f"Airlock.{proposal.trait.name}[{name!r}]"
            if not isinstance(rules, dict) or set(rules) - set(allowed):
                raise TraitError(f"{where} must be a dict with keys among {', '.join(allowed)}")
            for key, value in rules.items():
                low = 1 if key == "approvals" else 0
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    raise TraitError(f"{where}[{key!r}] must be a whole number, {low} or more")
        return proposal.value

    @validate("pseudonym_pattern")
    def _pattern(self, proposal):
        try:
            re.compile(proposal.value)
        except re.error as error:
            message = f"Airlock.pseudonym_pattern is not a regular expression: {error}"
            raise TraitError(message) from None
        return proposal.value

    def rules_for(self, plan: str | None, project: str) -> DisclosureRules:
        """The rules of `project` on `plan`: project settings over the plan's over the defaults."""
        merged = {"threshold": self.threshold, "rounding": self.rounding,
                  "approvals": self.approvals}  # fmt: skip
        merged.update(self.plans.get(plan or "", {}))
        merged.update(self.projects.get(project, {}))
        return DisclosureRules(**merged)
