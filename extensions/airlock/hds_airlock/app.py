"""The airlock as a Jupyter server extension: its settings and its route."""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Instance, Integer, List, TraitError, Unicode, default, validate

from . import handlers
from .files import Folders, check_folder_name
from .hub import HubAirlock

ROUTE = r"/api/hds/airlock/requests"


class AirlockApp(ExtensionApp):
    """Check researchers' release requests and forward them to the hub's airlock."""

    name = "hds_airlock"
    load_other_extensions = True

    hub_url = Unicode(
        help="""The hub's airlock endpoint.

        Default: $JUPYTERHUB_API_URL/hds/airlock/requests. Empty (no hub): every request
        is answered 503 with a message saying so.
        """,
    ).tag(config=True)

    hub_token = Unicode(
        help="Token for the hub's endpoint; default $JUPYTERHUB_API_TOKEN (the server's token)."
    )

    project = Unicode(
        help="The project this server belongs to; default $JUPYTERHUB_SERVER_NAME."
    ).tag(config=True)

    owner = Unicode(
        help="""The only user who may request releases from this server (the hub files them
        under the server's owner); default $JUPYTERHUB_USER. Empty: anyone the server lets in.
        """,
    ).tag(config=True)

    max_request_bytes = Integer(
        5 * 1024 * 1024,
        help="Largest total size, in bytes, of the files of one request (default 5 MiB).",
    ).tag(config=True)

    max_files = Integer(20, help="Most files in one request.").tag(config=True)

    release_dirs = List(
        Unicode(),
        default_value=["work", "shared"],
        help="Folders, relative to the server's root_dir, whose files may be released.",
    ).tag(config=True)

    dataset_dir = Unicode(
        "dataset",
        help="""The project dataset folder, relative to the server's root_dir: nothing in it
        (or linked into it) is ever sent. The same folder as DataGuardApp.dataset_dir.
        """,
    ).tag(config=True)

    hub = Instance(HubAirlock, allow_none=True)

    @default("hub_url")
    def _default_hub_url(self):
        api = os.environ.get("JUPYTERHUB_API_URL", "")
        return url_path_join(api, "hds/airlock/requests") if api else ""

    @default("hub_token")
    def _default_hub_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("project")
    def _default_project(self):
        return os.environ.get("JUPYTERHUB_SERVER_NAME", "")

    @default("owner")
    def _default_owner(self):
        return os.environ.get("JUPYTERHUB_USER", "")

    @validate("max_request_bytes", "max_files")
    def _validate_positive(self, proposal):
        if proposal.value < 1:
            name = proposal.trait.name
            raise TraitError(f"AirlockApp.{name} is {proposal.value}; write a positive number")
        return proposal.value

    @validate("release_dirs")
    def _validate_release_dirs(self, proposal):
        if not proposal.value:
            raise TraitError("AirlockApp.release_dirs is empty; write e.g. ['work', 'shared']")
        try:
            return [check_folder_name(v, "AirlockApp.release_dirs entry") for v in proposal.value]
        except ValueError as error:
            raise TraitError(str(error)) from None

    @validate("dataset_dir")
    def _validate_dataset_dir(self, proposal):
        try:
            return check_folder_name(proposal.value, "AirlockApp.dataset_dir")
        except ValueError as error:
            raise TraitError(str(error)) from None

    def folders(self) -> Folders:
        root_dir = getattr(self.serverapp.contents_manager, "root_dir", None)
        return Folders(root_dir, tuple(self.release_dirs), self.dataset_dir)

    def initialize_settings(self):
        if not getattr(self.serverapp.contents_manager, "root_dir", None):
            raise RuntimeError(
                "the airlock needs a file-based contents manager (with a root_dir); "
                f"{type(self.serverapp.contents_manager).__name__} has none"
            )
        self.hub = HubAirlock(self.hub_url, self.hub_token, self.project)
        if not self.hub_url:
            self.log.warning("airlock: no hub endpoint (JUPYTERHUB_API_URL unset); release "
                             "requests will be refused")  # fmt: skip
        self.settings[handlers.SETTINGS_KEY] = self

    def initialize_handlers(self):
        self.handlers.append((ROUTE, handlers.ReleaseRequestsHandler))
