"""Where collaboration events go: one JSON line each on the server's log (the container log)."""

from __future__ import annotations

import logging
import sys


def event_logger() -> logging.Logger:
    """The logger writing each event as one bare JSON line on stderr."""
    logger = logging.getLogger("hds_collaboration.events")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
