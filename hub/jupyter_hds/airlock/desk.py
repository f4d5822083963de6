"""The airlock desk: takes requests, records checkers' votes, releases, hands out downloads.

Every step asks the rules (`policy.airlock`), changes the release area (`store`) only when
they agree, and is an audit event, refusals included: `airlock.requested`, `airlock.checked`,
`airlock.approved`, `airlock.changes-requested`, `airlock.rejected`, `airlock.released`,
`airlock.downloaded`. Calls block (disk, DuckDB): hub handlers run them in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .. import events
from ..policy import airlock as rules
from ..policy.access import ProjectFacts, check_access
from ..policy.airlock import Airlock, Draft, Review, Vote
from ..policy.refusal import Refused
from . import checks
from .freeze import Sources, freeze
from .store import FILES, ReleaseStore, UnknownRequest

HUB = "service:jupyterhub"  # the actor of what the hub does on its own (checks, release)
VOTE_ACTIONS = {
    rules.APPROVE: "airlock.approved",
    rules.REQUEST_CHANGES: "airlock.changes-requested",
    rules.REJECT: "airlock.rejected",
}
MAX_EVENT_TEXT = 2000


def now() -> datetime:
    return datetime.now(UTC)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def review_of(record: dict[str, Any]) -> Review:
    """The rules' view of a stored request."""
    return Review(
        id=record["id"],
        project=record["project"],
        requester=record["requester"],
        status=record["status"],
        approvals_required=record["approvals_required"],
        votes=tuple(
            Vote(v["checker"], v["decision"], v["comment"], datetime.fromisoformat(v["time"]))
            for v in record["votes"]
        ),
        share_with_project=record["share_with_project"],
        released=_time(record.get("released")),
        expires=_time(record.get("expires")),
        replaced_by=record.get("replaced_by"),
    )


def _stored(record: dict[str, Any], review: Review, actor: str, at: datetime) -> dict[str, Any]:
    """`record` carrying `review`'s state, with the change in its history."""
    changed = review.status != record["status"]
    return {
        **record,
        "status": review.status,
        "votes": [
            {
                "checker": v.checker,
                "decision": v.decision,
                "comment": v.comment,
                "time": v.time.isoformat(),
            }
            for v in review.votes
        ],  # fmt: skip
        "released": review.released.isoformat() if review.released else None,
        "expires": review.expires.isoformat() if review.expires else None,
        "replaced_by": review.replaced_by,
        "history": [
            *record["history"],
            *(
                [{"time": at.isoformat(), "actor": actor, "status": review.status}]
                if changed
                else []
            ),
        ],
    }


@dataclass(frozen=True)
class Download:
    """The approved bytes of one released file, and its name."""

    name: str
    data: bytes
    sha256: str


class ReleaseDesk:
    """The airlock's actions over one release area, with the operator's settings."""

    def __init__(self, store: ReleaseStore, settings: Airlock):
        self.store = store
        self.settings = settings
        self.pseudonym = re.compile(settings.pseudonym_pattern)

    # ------------------------------------------------------------------ requests

    def submit(
        self, owner: str, draft: Draft, facts: ProjectFacts | None, sources: Sources,
        plan: str | None, *, source_ip: str | None = None, today: date | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Freeze and check `owner`'s request; the stored record, or Refused (audited)."""
        try:
            check_access(owner, draft.project, facts, today or date.today())
            if draft.replaces:
                rules.withdraw(self._review(draft.replaces, draft.project), owner, "new")
            record = self._create(owner, draft, sources, plan)
        except Refused as refused:
            self._emit("airlock.requested", owner, "refused", draft.project, None, source_ip,
                       {**refused.details(), "files": _claims(draft)})  # fmt: skip
            raise
        self._emit("airlock.requested", owner, "succeeded", draft.project, record["id"],
                   source_ip, _requested(record))  # fmt: skip
        self._emit("airlock.checked", HUB, "succeeded", draft.project, record["id"], None,
                   _checked(record))  # fmt: skip
        if draft.replaces:
            self._replace(owner, draft.replaces, record["id"])
        return record

    def _review(self, request_id: str, project: str) -> Review:
        try:
            record = self.store.load(request_id)
        except UnknownRequest:
            raise Refused("unknown", f"There is no request {request_id}.", status=404) from None
        if record["project"] != project:
            raise Refused("unknown", f"Request {request_id} is not one of project {project}'s.",
                          status=404)  # fmt: skip
        return review_of(record)

    def _create(self, owner: str, draft: Draft, sources: Sources, plan: str | None):
        disclosure = self.settings.rules_for(plan, draft.project)
        context = checks.Context(
            disclosure, self.pseudonym, checks.dataset_identifiers(sources.dataset, self.pseudonym)
        )
        at = now()
        with self.store.building() as (request_id, folder):
            frozen = freeze(draft, sources, folder / FILES)
            files = [
                {**f.to_dict(), "check": checks.check_file(
                    folder / FILES / str(f.number), f.path, context).to_dict()}
                for f in frozen
            ]  # fmt: skip
            record = {
                "id": request_id, "project": draft.project, "requester": owner,
                "purpose": draft.purpose, "created": at.isoformat(), "status": rules.SUBMITTED,
                "notebook_outputs": draft.notebook_outputs,
                "share_with_project": draft.share_with_project, "replaces": draft.replaces,
                "replaced_by": None, "plan": plan, "rules": disclosure.__dict__,
                "approvals_required": disclosure.approvals, "files": files, "votes": [],
                "released": None, "expires": None, "downloads": [],
                "history": [{"time": at.isoformat(), "actor": owner, "status": rules.SUBMITTED}],
            }  # fmt: skip
            self.store.write(folder, record)
        return record

    def _replace(self, owner: str, old: str, new: str) -> None:
        """The replaced request is withdrawn; if it was decided meanwhile, it stays as it is."""
        with contextlib.suppress(Refused):
            self.store.update(old, lambda r: _stored(
                r, rules.withdraw(review_of(r), owner, new), owner, now()))  # fmt: skip

    # ------------------------------------------------------------------- reviews

    def decide(
        self, checker: str, request_id: str, decision: str, comment: str,
        is_member: Callable[[str, str], bool], *, source_ip: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`checker`'s vote; a request approved by it is released at once. Audited."""
        action = VOTE_ACTIONS.get(decision, "airlock.approved")
        at = now()

        def vote(record: dict[str, Any]) -> dict[str, Any]:
            review = rules.decide(
                review_of(record), checker, decision, comment, at,
                checker_is_member=is_member(checker, record["project"]),
                members_may_review=self.settings.members_may_review,
            )  # fmt: skip
            record = _stored(record, review, checker, at)
            if review.status == rules.APPROVED:
                record = _stored(record, rules.release(review, at, self.settings.release_days),
                                 HUB, at)  # fmt: skip
            return record

        try:
            project = self._project_of(request_id)
            record = self.store.update(request_id, vote)
        except Refused as refused:
            self._emit(action, checker, "refused", None, request_id, source_ip,
                       {**refused.details(), "decision": decision})  # fmt: skip
            raise
        self._emit(action, checker, "succeeded", project, request_id, source_ip, {
            "decision": decision, "comment": _short(comment), "status": record["status"],
            "votes": len(record["votes"]), "approvals_required": record["approvals_required"],
            "files": _files(record),
        })  # fmt: skip
        if record["status"] == rules.RELEASED:
            self._emit("airlock.released", HUB, "succeeded", project, request_id, None, {
                "requester": record["requester"], "files": _files(record),
                "checkers": [v["checker"] for v in record["votes"]],
                "comments": {v["checker"]: _short(v["comment"]) for v in record["votes"]},
                "share_with_project": record["share_with_project"],
                "expires": record["expires"],
            })  # fmt: skip
        return record

    def _project_of(self, request_id: str) -> str:
        try:
            return self.store.load(request_id)["project"]
        except UnknownRequest:
            raise Refused("unknown", f"There is no request {request_id}.", status=404) from None

    # ----------------------------------------------------------------- downloads

    def download(
        self, person: str, request_id: str, number: int, facts_of: Callable[[str], Any], *,
        source_ip: str | None = None,
    ) -> Download:  # fmt: skip
        """The approved bytes of a released file for `person`, recorded; or Refused (audited)."""
        at = now()
        try:
            record = self._record(request_id)
            files = {f["number"]: f for f in record["files"]}
            if number not in files:
                raise Refused("unknown", f"Request {request_id} has no file {number}.", status=404)
            rules.check_download(
                review_of(record), person, facts_of(record["project"]), at, at.date()
            )
            entry = files[number]
            data = self.store.blob(request_id, number).read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise Refused("damaged", f"The frozen copy of {entry['path']} is not the one "
                              "approved.", "Tell the hosting team.", status=500)  # fmt: skip
        except Refused as refused:
            self._emit("airlock.downloaded", person, "refused", None, request_id, source_ip,
                       {**refused.details(), "file": number})  # fmt: skip
            raise
        self.store.update(
            request_id,
            lambda r: {
                **r,
                "downloads": [
                    *r["downloads"],
                    {"person": person, "file": number, "time": at.isoformat()},
                ],
            },
        )
        self._emit("airlock.downloaded", person, "succeeded", record["project"], request_id,
                   source_ip, {"path": entry["path"], "size": entry["size"],
                               "sha256": entry["sha256"]})  # fmt: skip
        return Download(entry["path"].rsplit("/", 1)[-1], data, entry["sha256"])

    def _record(self, request_id: str) -> dict[str, Any]:
        try:
            return self.store.load(request_id)
        except UnknownRequest:
            raise Refused("unknown", f"There is no request {request_id}.", status=404) from None

    # ------------------------------------------------------------------- reading

    def requests_of(self, person: str, project: str) -> list[dict[str, Any]]:
        """A person's requests in a project, as the researcher's side shows them."""
        return [
            self.requester_view(r)
            for r in self.store.all()
            if r["requester"] == person and r["project"] == project
        ]

    def requester_view(self, record: dict[str, Any]) -> dict[str, Any]:
        """What the requester (and members of a shared release) see: comments once decided."""
        review = review_of(record)
        return {
            "id": record["id"],
            "project": record["project"],
            "requester": record["requester"],
            "status": rules.shown_status(review, now()),
            "purpose": record["purpose"],
            "created": record["created"],
            "replaces": record["replaces"],
            "replaced_by": record["replaced_by"],
            "share_with_project": record["share_with_project"],
            "expires": record["expires"],
            "purged": record.get("purged"),
            "files": [
                {"number": f["number"], "path": f["path"], "size": f["size"], "sha256": f["sha256"]}
                for f in record["files"]
            ],  # fmt: skip
            "comments": [
                {
                    "author": v.checker,
                    "created": v.time.isoformat(),
                    "text": v.comment,
                    "decision": v.decision,
                }
                for v in (review.votes if review.decided else ())
            ],  # fmt: skip
        }

    def checker_view(self, record: dict[str, Any], checker: str) -> dict[str, Any]:
        """What a checker sees: everything, but other checkers' votes only once all are in."""
        review = review_of(record)
        shown = rules.visible_votes(review, checker)
        return {
            **self.requester_view(record),
            "notebook_outputs": record["notebook_outputs"],
            "rules": record["rules"],
            "approvals_required": record["approvals_required"],
            "votes_in": len(record["votes"]),
            "votes": [
                {
                    "checker": v.checker,
                    "decision": v.decision,
                    "comment": v.comment,
                    "time": v.time.isoformat(),
                }
                for v in shown
            ],  # fmt: skip
            "voted": any(v.checker == checker for v in review.votes),
            "files": [
                {
                    key: f[key]
                    for key in (
                        "number",
                        "path",
                        "description",
                        "min_cell_size",
                        "size",
                        "sha256",
                        "source_size",
                        "source_sha256",
                        "stripped",
                        "check",
                    )
                }
                for f in record["files"]
            ],  # fmt: skip
            "downloads": record["downloads"] if review.decided else [],
            "history": record["history"],
        }

    def _emit(self, action, actor, outcome, project, target, source, details) -> None:
        events.emit(action, actor=actor, outcome=outcome, project=project, target=target,
                    source=source, details=details)  # fmt: skip


def _claims(draft: Draft) -> list[dict[str, Any]]:
    return [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in draft.files]


def _files(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"path": f["path"], "size": f["size"], "sha256": f["sha256"]} for f in record["files"]]


def _requested(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "purpose": _short(record["purpose"]),
        "files": [
            {
                "path": f["path"],
                "size": f["size"],
                "sha256": f["sha256"],
                **({"source_sha256": f["source_sha256"]} if f["stripped"] else {}),
            }
            for f in record["files"]
        ],  # fmt: skip
        "replaces": record["replaces"],
        "share_with_project": record["share_with_project"],
        "approvals_required": record["approvals_required"],
    }


def _checked(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": [
            {
                "path": f["path"],
                "kind": f["check"]["kind"],
                "careful_read": f["check"]["careful_read"],
                "flags": [_short(x["message"], 200) for x in f["check"]["flags"]][:20],
            }
            for f in record["files"]
        ],  # fmt: skip
        "rules": record["rules"],
    }


def _short(text: str, limit: int = MAX_EVENT_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
