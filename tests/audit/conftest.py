"""The audit unit tests' record: a real writer on an empty folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_hds.audit.writer import ChainWriter


@pytest.fixture
def record(tmp_path: Path):
    """A writer on an empty record in tmp_path, segments of 10 entries; closed afterwards."""
    writer = ChainWriter(tmp_path, segment_entries=10, fsync=False).open()
    yield writer
    writer.close()
