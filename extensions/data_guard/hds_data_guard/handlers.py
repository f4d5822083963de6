"""Handlers that stand in front of Jupyter's download, export and contents routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.nbconvert import handlers as nbconvert_handlers
from jupyter_server.services.contents import handlers as contents_handlers
from jupyter_server.services.contents.handlers import ContentsHandler
from jupyter_server.view import handlers as view_handlers
from tornado import web

from hds_records.events import Event

if TYPE_CHECKING:
    from .app import DataGuardApp

SETTINGS_KEY = "hds_data_guard"

DOWNLOAD_MESSAGE = (
    "Downloads are disabled on this platform: project files do not leave it through the "
    "browser. Open the file in JupyterLab or read it in a notebook instead."
)
EXPORT_MESSAGE = (
    "Exporting notebooks (HTML, PDF, script, ...) is disabled on this platform: a notebook's "
    "outputs can hold project data. Keep working in the notebook itself."
)
UNRECORDED_MESSAGE = (
    "This file of the project dataset cannot be opened now: opening it must be recorded, and "
    "the record cannot be reached. Try again in a minute; if it lasts, tell the hosting team."
)


class GuardMixin:
    """Record a data-guard event for the current request, and refuse it with a clear reason."""

    route = ""

    @property
    def guard(self) -> DataGuardApp | None:
        return self.settings.get(SETTINGS_KEY)  # type: ignore[attr-defined]

    async def record(
        self,
        action: str,
        target: str | None,
        outcome: str,
        reason: str,
        *,
        instead: Event | None = None,
        **details: Any,
    ) -> bool:
        """Record the event; True once the hub has it or it is spooled for the hub (else
        `instead` is what the hub will receive, see AuditSink.record)."""
        guard = self.guard
        if guard is None or guard.sink is None:
            self.log.error("data guard not loaded: %s of %s not recorded", action, target)  # type: ignore[attr-defined]
            return False
        event = self.event(action, target, outcome, reason, **details)
        return await guard.sink.record(event, instead)

    def event(self, action: str, target: str | None, outcome: str, reason: str, **details: Any
              ) -> Event:  # fmt: skip
        """The event of this request: who asked, from where, by which route."""
        guard, request = self.guard, self.request  # type: ignore[attr-defined]
        return Event(
            action,
            actor=self.current_user.username,  # type: ignore[attr-defined]
            outcome=outcome,
            project=(guard.project if guard else None) or None,
            # An empty path is the contents root (the home folder); the hub takes no empty text.
            target="/" if target == "" else target,
            source=guard.client_address(request) if guard else None,
            details={"route": self.route, "method": request.method, "reason": reason, **details},
        )

    async def refuse(self, action: str, target: str | None, reason: str, message: str,
                     **details: Any) -> NoReturn:  # fmt: skip
        await self.record(action, target, "refused", reason, **details)
        guard = self.guard
        extra = f" {guard.export_help}" if guard is not None and guard.export_help else ""
        raise web.HTTPError(403, f"{message}{extra} This attempt has been recorded.")


class FilesRefusedHandler(GuardMixin, JupyterHandler):
    """`/files/...` (and `?download=1`): raw file bytes for the browser. Always refused.

    Also set as `ContentsManager.files_handler_class`, so Jupyter's own `/files/` route
    refuses too should this extension's route ever stop coming first.
    """

    auth_resource = "contents"
    route = "/files"

    def initialize(self, **_files_handler_params: Any) -> None:
        """Accept (and ignore) the `files_handler_params` Jupyter passes to a files handler."""

    async def _refuse(self, path: str) -> NoReturn:
        details = {"attachment": True} if self.get_argument("download", None) else {}
        await self.refuse("download.blocked", path.strip("/"), "file downloads are disabled",
                          DOWNLOAD_MESSAGE, **details)  # fmt: skip

    @web.authenticated
    @authorized
    async def get(self, path: str = "") -> None:
        await self._refuse(path)

    @web.authenticated
    @authorized
    async def head(self, path: str = "") -> None:
        await self._refuse(path)


class ViewRefusedHandler(GuardMixin, JupyterHandler):
    """`/view/...`: a page that frames `/files/...`. Refused like a download."""

    auth_resource = "contents"
    route = "/view"

    @web.authenticated
    @authorized
    async def get(self, path: str = "") -> None:
        await self.refuse("download.blocked", path.strip("/"), "file downloads are disabled",
                          DOWNLOAD_MESSAGE)  # fmt: skip


class NbconvertRefusedHandler(GuardMixin, JupyterHandler):
    """`/nbconvert/<format>/<path>` (GET) and `/nbconvert/<format>` (POST): exports. Refused."""

    auth_resource = "nbconvert"
    route = "/nbconvert"

    async def _refuse(self, format: str, path: str | None) -> NoReturn:
        await self.refuse("export.blocked", path, "notebook export is disabled", EXPORT_MESSAGE,
                          format=format)  # fmt: skip

    @web.authenticated
    @authorized
    async def get(self, format: str, path: str = "") -> None:
        await self._refuse(format, path.strip("/") or None)

    @web.authenticated
    @authorized
    async def post(self, format: str, path: str = "") -> None:
        await self._refuse(format, path.strip("/") or None)


class GuardedContentsHandler(GuardMixin, ContentsHandler):
    """Jupyter's contents API, except that dataset files keep their bytes and stay in place.

    - raw reads (`format=base64`) of dataset files are refused, before anything is read;
    - other content reads of dataset files are allowed and audited (or refused, when
      `DataGuardApp.dataset_content` is "none"), and refused when their event cannot be
      recorded: the file's content is sent only once its event is;
    - copying a dataset file elsewhere (POST `copy_from`) and moving or renaming one
      (PATCH) are refused.
    """

    route = "/api/contents"
    _read: tuple[dict[str, Any], bool] | None = None

    @web.authenticated
    @authorized
    async def get(self, path: str = "") -> None:
        path = path or ""
        wants_content = self.get_query_argument("content", default="1") != "0"
        raw = self.get_query_argument("format", default=None) == "base64"
        guard = self.guard
        hidden = guard is not None and guard.dataset_content == "none"
        # Only these two checks happen before the read; folders are never refused here.
        if (
            wants_content
            and (raw or hidden)
            and not await ensure_async(self.contents_manager.dir_exists(path))
        ):
            if raw:
                await self._check_raw_read(path)
            await self._check_dataset_content(path)
        self._read = None
        await super().get(path)  # type: ignore[misc]
        if self._read is not None:
            model, location = self._read
            await self._check_read(model)
            super()._finish_model(model, location)

    def _finish_model(self, model: dict[str, Any], location: bool = True) -> None:
        if (
            self.request.method == "GET"
            and model.get("type") in ("file", "notebook")
            and (model.get("content") is not None)
        ):
            self._read = (model, location)  # sent by get() once checked and recorded
            return
        super()._finish_model(model, location)

    async def _check_read(self, model: dict[str, Any]) -> None:
        """Refuse a raw read of the dataset; record a text read of it, or refuse it unrecorded."""
        path = model["path"]
        if model.get("format") == "base64":
            # A file asked for without a format comes back base64 when it is not text.
            await self._check_raw_read(path)
        if not self._dataset_contains(path):
            return
        refused = self.event("dataset.read.blocked", path.strip("/"), "refused",
                             "its audit event could not be recorded")  # fmt: skip
        recorded = await self.record("dataset.read", path, "allowed", "dataset file opened",
                                     instead=refused, format=model.get("format"))  # fmt: skip
        if not recorded:
            raise web.HTTPError(503, UNRECORDED_MESSAGE)

    @web.authenticated
    @authorized
    async def post(self, path: str = "") -> None:
        body = self.get_json_body()
        copy_from = body.get("copy_from") if isinstance(body, dict) else None
        if copy_from and self._copies_dataset(copy_from):
            await self.refuse("dataset.copy.blocked", copy_from.strip("/"),
                              "dataset files stay in the dataset folder",
                              self._stay_message("copied"),
                              destination=path.strip("/"))  # fmt: skip
        await super().post(path)  # type: ignore[misc]

    @web.authenticated
    @authorized
    async def patch(self, path: str = "") -> None:
        if self._dataset_contains(path):
            body = self.get_json_body()
            destination = body.get("path") if isinstance(body, dict) else None
            await self.refuse("dataset.move.blocked", path.strip("/"),
                              "dataset files stay in the dataset folder",
                              self._stay_message("moved or renamed"),
                              destination=destination)  # fmt: skip
        await super().patch(path)  # type: ignore[misc]

    def _dataset_contains(self, path: str) -> bool:
        guard = self.guard
        # Without the guard's settings, treat everything as dataset: refuse rather than leak.
        return True if guard is None or guard.dataset is None else guard.dataset.contains(path)

    def _copies_dataset(self, path: str) -> bool:
        guard = self.guard
        return (
            True if guard is None or guard.dataset is None else guard.dataset.copies_dataset(path)
        )

    async def _check_raw_read(self, path: str) -> None:
        guard = self.guard
        if self._dataset_contains(path):
            await self.refuse("dataset.read.blocked", path.strip("/"),
                              "raw bytes of dataset files are not served",
                              "Files of the project dataset cannot be opened as raw bytes in "
                              "the browser. Read them in a notebook, for example with pandas or "
                              "DuckDB.")  # fmt: skip
        if guard is not None and guard.refuse_raw_reads:
            await self.refuse("download.blocked", path.strip("/"),
                              "raw file bytes are not served",
                              "Opening files as raw bytes in the browser (images, PDFs, binary "
                              "files) is disabled on this platform. Display them from a "
                              "notebook instead.")  # fmt: skip

    async def _check_dataset_content(self, path: str) -> None:
        guard = self.guard
        if guard is not None and guard.dataset_content == "none" and self._dataset_contains(path):
            await self.refuse("dataset.read.blocked", path.strip("/"),
                              "dataset content is not served",
                              "Files of the project dataset cannot be opened in the browser. "
                              "Read them in a notebook, for example with pandas or "
                              "DuckDB.")  # fmt: skip

    def _stay_message(self, verb: str) -> str:
        guard = self.guard
        folder = guard.dataset.api_path if guard and guard.dataset else "dataset"
        return (f"Dataset files cannot be {verb} out of the read-only {folder}/ folder. Read "
                "them where they are from a notebook, and save your own results in your "
                "work folder.")  # fmt: skip


def guarded_routes() -> list[tuple[str, type[JupyterHandler]]]:
    """Our handlers on exactly the URL patterns Jupyter uses for the same routes.

    The patterns are taken from jupyter_server itself, so routing stays identical (the
    contents checkpoint and trust routes keep their own handlers, ahead of ours).
    """
    routes: list[tuple[str, type[JupyterHandler]]] = [(r"/files/(.*)", FilesRefusedHandler)]
    routes += [(pattern, ViewRefusedHandler) for pattern, _ in view_handlers.default_handlers]
    routes += [(pattern, NbconvertRefusedHandler)
               for pattern, _ in nbconvert_handlers.default_handlers]  # fmt: skip
    routes += [
        (pattern, GuardedContentsHandler if handler is ContentsHandler else handler)
        for pattern, handler, *_ in contents_handlers.default_handlers
    ]
    return routes
