"""The one error an import raises when it refuses: a one-line reason, and the checks' report."""

from __future__ import annotations

from typing import Any


class ImportRefused(ValueError):
    """The import did not happen and nothing was written; `str()` says why and what to do."""

    def __init__(self, message: str, report: dict[str, Any] | None = None):
        super().__init__(message)
        self.report = report
