"""What may be co-edited: notebooks and text, and dataset files only as the data guard allows.

A collaboration room (`/api/collaboration/room/<format>:<type>:<file id>`) loads its file
through the contents manager, not through the contents API the data guard stands in front
of. So the same rules are applied here, before a room is made:

- rooms hold notebooks (`json`) or text (`text`) only: a `base64` room would hand any
  file's raw bytes to the browser;
- a file of the project dataset opens only when the data guard lets dataset files open as
  text (`DataGuardApp.dataset_content = "text"`), and each opening is a `dataset.read`
  event in the name of the person who opened it; refusals are `dataset.read.blocked`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jupyter_server.base.handlers import JupyterHandler
from tornado.web import HTTPError

from hds_records.events import Event

ROOM_FORMATS = ("json", "text")
ROUTE = "/api/collaboration/room"


@dataclass(frozen=True)
class RoomDecision:
    allowed: bool
    action: str | None  # the data-guard event to record (dataset files only), or None
    reason: str


def decide(file_format: str, in_dataset: bool, dataset_content: str) -> RoomDecision:
    """Whether a room of `file_format` may open on a file (in the dataset or not)."""
    if file_format not in ROOM_FORMATS:
        return RoomDecision(
            False,
            "dataset.read.blocked" if in_dataset else None,
            f"co-editing opens notebooks and text files only, not {file_format!r} content",
        )
    if not in_dataset:
        return RoomDecision(True, None, "")
    if dataset_content != "text":
        return RoomDecision(False, "dataset.read.blocked", "dataset files are not shown")
    return RoomDecision(True, "dataset.read", "dataset file opened for co-editing")


def room_file(settings, room: str) -> tuple[str, str | None] | None:
    """The format and file path of document room `room` (`<format>:<type>:<file id>`).

    None for rooms that hold no file (awareness and other transient rooms); the path is
    None when the file id is unknown.
    """
    if room.count(":") < 2:
        return None
    file_format, _, file_id = room.split(":", 2)
    return file_format, settings["file_id_manager"].get_path(file_id)


def guard_rooms(record_plain) -> None:
    """Put `decide` in front of jupyter-collaboration's room websocket (once per process).

    `record_plain(action, actor, outcome, handler, target=..., reason=...)` records a refusal
    that is not about the dataset (the server log).
    """
    from jupyter_server_ydoc.handlers import YDocWebSocketHandler

    original = YDocWebSocketHandler.prepare
    if getattr(original, "hds_guarded", False):
        return

    async def prepare(self):
        found = room_file(self.settings, self.request.path.rstrip("/").rsplit("/", 1)[-1])
        if found is None:
            return await original(self)
        file_format, path = found
        guard = self.settings.get("hds_data_guard")
        in_dataset = bool(guard and guard.dataset and guard.dataset.contains(path))
        content = guard.dataset_content if guard else "text"
        decision = decide(file_format, in_dataset, content)
        if not decision.allowed:
            # Who asks, authenticated like any request (403 when no one).
            await JupyterHandler.prepare(self, _redirect_to_login=False)
            await _record(self, guard, decision, path, record_plain, "refused")
            raise HTTPError(403, decision.reason)
        await original(self)
        if decision.action and not await _record(self, guard, decision, path, record_plain,
                                                 "allowed"):  # fmt: skip
            # As the data guard does: a dataset file opens only once its opening is recorded.
            raise HTTPError(503, "opening this dataset file cannot be recorded now; try again")

    prepare.hds_guarded = True  # type: ignore[attr-defined]
    YDocWebSocketHandler.prepare = prepare  # type: ignore[method-assign]


async def _record(handler, guard, decision: RoomDecision, path, record_plain, outcome: str) -> bool:
    """Record the room's decision; True once recorded (the hub has it, or it is spooled)."""
    actor = handler.current_user.username
    if decision.action is None or guard is None or guard.sink is None:
        # A refusal that is not about the dataset: rooms that open record dataset reads only.
        if outcome == "refused":
            record_plain("collaboration.room.refused", actor, outcome, handler, target=path,
                         reason=decision.reason)  # fmt: skip
        return decision.action is None
    event = Event(
        decision.action,
        actor=actor,
        outcome=outcome,
        project=guard.project or None,
        target=path,
        source=guard.client_address(handler.request),
        details={"route": ROUTE, "method": handler.request.method, "reason": decision.reason},
    )
    # As the data guard does: an opening that cannot be recorded is refused, and recorded so.
    unrecorded = "its audit event could not be recorded"
    instead = (
        replace(event, action="dataset.read.blocked", outcome="refused",
                details={**event.details, "reason": unrecorded})
        if outcome == "allowed" else None
    )  # fmt: skip
    return await guard.sink.record(event, instead)
