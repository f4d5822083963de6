"""How quotas are kept: volume allocation, and how often running servers are measured."""

from __future__ import annotations

from traitlets import Bool, Float, Integer
from traitlets.config import LoggingConfigurable


class Quotas(LoggingConfigurable):
    """Storage volumes, the compute watch and storage sampling (docs/quotas.md).

    Where volumes and the usage ledger live is the hub's state layout (`Deployment`).
    """

    preallocate = Bool(
        False,
        help="""Reserve each volume's full size on the host disk when it is created or grown
        (fallocate). Off: volumes are sparse and the host disk holds only what projects
        write, so the sum of plans may exceed the disk; watch `df` of the volumes folder.""",
    ).tag(config=True)

    compute_check_interval = Float(
        60.0,
        help="""Seconds between two checks of the running servers' projects against their
        monthly compute; a project out of compute has its servers stopped at the next check.""",
    ).tag(config=True)

    idle_check_interval = Integer(
        60,
        help="""Seconds between two rounds of the idle culler (each server is stopped after
        its project's plan's idle_timeout; a round finds it within this delay).""",
    ).tag(config=True)

    storage_sample_interval = Float(
        900.0,
        help="""Seconds between two samples of the storage in use of projects whose servers
        run (the summary's peak storage); starts and stops are always sampled.""",
    ).tag(config=True)
