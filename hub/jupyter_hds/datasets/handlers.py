"""The hosting team's datasets on the hub: the REST API (list, show, import) and the page.

    GET  /hub/api/hds/datasets                     every version with its manifest's summary
    GET  /hub/api/hds/datasets/<name>[@<version>]  one version's manifest
    POST /hub/api/hds/datasets/<name>/versions     multipart: project, spec, files..., force,
                                                   rotate_key: an import, as `hds dataset import`
    GET  /hub/hds/datasets                         the page: versions, reports, who uses which

For holders of `custom:datasets:manage` (the hosting team). An import runs in a thread, from
uploads kept in a private folder of the state and removed after (raw extracts hold identities).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from pathlib import Path
from typing import Any

from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from tornado import web

from ..audit.inbox import Inbox
from ..deployment import Deployment
from ..policy.projects import is_project
from .errors import ImportRefused
from .importer import Importer, ImportRequest, audited_import
from .names import check_name, parse_reference
from .store import DatasetStore, Version

MANAGE_SCOPE = "custom:datasets:manage"
NAME = r"[^/]+"


def summary(version: Version, users: list[str]) -> dict[str, Any]:
    """What the list and the page show of a version: figures, never the key."""
    manifest = version.manifest
    return {
        "name": version.name,
        "version": version.version,
        "project": manifest.get("project"),
        "imported_by": manifest.get("imported_by"),
        "imported_at": manifest.get("imported_at"),
        "key_id": manifest.get("key_id"),
        "forced": manifest.get("forced", False),
        "rows": {t: table.get("rows") for t, table in (manifest.get("tables") or {}).items()},
        "checks": manifest.get("checks") or {},
        "used_by": users,
    }


class DatasetsMixin:
    """Shared by the API and the page: the scope, the store, who uses which version."""

    def check_manager(self) -> None:
        if not self.has_scope(MANAGE_SCOPE):  # type: ignore[attr-defined]
            raise web.HTTPError(403, "Datasets are for the hosting team.")

    @property
    def deployment(self) -> Deployment:
        return Deployment(config=self.settings["config"])  # type: ignore[attr-defined]

    @property
    def store(self) -> DatasetStore:
        return DatasetStore(self.deployment.datasets)

    def users_of(self, versions: list[Version]) -> dict[tuple[str, int], list[str]]:
        """Projects whose `dataset` names each version (`name` is the current one)."""
        current = {v.name: max(w.version for w in versions if w.name == v.name) for v in versions}
        found: dict[tuple[str, int], list[str]] = {}
        for group in self.db.query(orm.Group):  # type: ignore[attr-defined]
            properties = dict(group.properties or {})
            if not is_project(properties) or not properties.get("dataset"):
                continue
            try:
                ref = parse_reference(str(properties["dataset"]))
            except ValueError:
                continue
            version = ref.version or current.get(ref.name)
            if version is not None:
                found.setdefault((ref.name, version), []).append(group.name)
        return found

    def summaries(self) -> list[dict[str, Any]]:
        versions = self.store.list()
        users = self.users_of(versions)
        return [summary(v, sorted(users.get((v.name, v.version), []))) for v in versions]


class DatasetsAPIHandler(DatasetsMixin, APIHandler):
    def get(self):
        self.check_manager()
        self.write({"datasets": self.summaries()})


class DatasetAPIHandler(DatasetsMixin, APIHandler):
    def get(self, reference: str):
        self.check_manager()
        try:
            version = self.store.get(reference)
        except (ValueError, FileNotFoundError) as error:
            raise web.HTTPError(404, str(error)) from None
        self.write({"name": version.name, "version": version.version, **version.manifest})


class ImportAPIHandler(DatasetsMixin, APIHandler):
    """POST an import: the same checks, manifest and audit events as the command."""

    async def post(self, name: str):
        self.check_manager()
        try:
            check_name(name)
        except ValueError as error:
            raise web.HTTPError(400, str(error)) from None
        project = self.get_body_argument("project", "")
        spec = self._spec()
        uploads = self.deployment.datasets / f".uploads-{secrets.token_hex(8)}"
        try:
            inputs = self._save(uploads)
            request = ImportRequest(
                name, project, spec, tuple(inputs), self.current_user.name,
                force=self._flag("force"), rotate_key=self._flag("rotate_key"),
            )  # fmt: skip
            result = await asyncio.to_thread(self._run, request)
        except ImportRefused as refused:
            self.set_status(422)
            return self.write({"status": 422, "message": str(refused),
                               "report": getattr(refused, "report", None)})  # fmt: skip
        finally:
            shutil.rmtree(uploads, ignore_errors=True)
        self.set_status(201)
        self.write({"name": result.name, "version": result.version,
                    "manifest_sha256": result.manifest_sha256})  # fmt: skip

    def _run(self, request: ImportRequest):
        deployment = self.deployment
        importer = Importer.for_deployment(deployment, self._project_exists)
        return audited_import(importer, request, Inbox(deployment.audit), source="hub")

    def _project_exists(self, project: str) -> bool:
        group = orm.Group.find(self.db, project)
        return group is not None and is_project(dict(group.properties or {}))

    def _spec(self) -> str:
        files = self.request.files.get("spec") or []
        text = files[0]["body"].decode("utf-8", "replace") if files else ""
        text = text or self.get_body_argument("spec", "")
        if not text.strip():
            raise web.HTTPError(400, "send the import's spec (TOML) as the `spec` field")
        return text

    def _flag(self, name: str) -> bool:
        return self.get_body_argument(name, "").lower() in ("1", "true", "yes", "on")

    def _save(self, folder: Path) -> list[Path]:
        uploads = self.request.files.get("files") or []
        if not uploads:
            raise web.HTTPError(400, "send the raw files (CSV or Parquet) as `files` fields")
        folder.mkdir(mode=0o700, parents=True)
        saved = []
        for upload in uploads:
            filename = Path(upload["filename"]).name
            if not filename or filename.startswith("."):
                raise web.HTTPError(400, f"{upload['filename']!r} cannot name an input file")
            path = folder / filename
            path.write_bytes(upload["body"])
            saved.append(path)
        return saved


class DatasetsPage(DatasetsMixin, BaseHandler):
    @web.authenticated
    async def get(self):
        self.check_manager()
        rows = await asyncio.to_thread(self.summaries)
        self.finish(await self.render_template("hds_datasets.html", datasets=rows))


API_HANDLERS = [
    (r"/api/hds/datasets", DatasetsAPIHandler),
    (rf"/api/hds/datasets/({NAME})/versions", ImportAPIHandler),
    (rf"/api/hds/datasets/({NAME})", DatasetAPIHandler),
]
PAGE_HANDLERS = [(r"/hds/datasets", DatasetsPage)]
