"""Where quota state lives on the hub host, and how often running servers are checked."""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Bool, Float, Unicode, default
from traitlets.config import LoggingConfigurable


def _state(name: str) -> str:
    return str(Path(os.environ.get("HDS_STATE_DIR", "/var/lib/jupyter-hds")) / name)


class Quotas(LoggingConfigurable):
    """Storage volumes, the usage ledger and the compute watch (docs/quotas.md)."""

    volumes_root = Unicode(
        help="""Folder of the projects' storage volumes: one ext4 image per project
        (<project>.ext4, root-only), loop-mounted at <storage_root>/<project> while its
        servers run. Keep it on the host's data disk, outside any container, backed up.""",
    ).tag(config=True)

    preallocate = Bool(
        False,
        help="""Reserve each volume's full size on the host disk when it is created or grown
        (fallocate). Off: volumes are sparse and the host disk holds only what projects
        write, so the sum of plans may exceed the disk; watch `df` of volumes_root.""",
    ).tag(config=True)

    usage_dir = Unicode(
        help="""Folder of the usage ledger (ledger-YYYY-MM.jsonl): every server's start and
        stop with its owner and limits, and observations of each project. Invoices are
        computed from it; keep it outside containers and back it up.""",
    ).tag(config=True)

    compute_check_interval = Float(
        60.0,
        help="""Seconds between two checks of a running server's project against its monthly
        compute; a project out of compute has its servers stopped at the next check.""",
    ).tag(config=True)

    storage_sample_interval = Float(
        900.0,
        help="""Seconds between two samples of a project's storage in use while its servers
        run (the summary's peak storage); starts and stops are always sampled.""",
    ).tag(config=True)

    @default("volumes_root")
    def _default_volumes_root(self):
        return _state("project-volumes")

    @default("usage_dir")
    def _default_usage_dir(self):
        return _state("usage")
