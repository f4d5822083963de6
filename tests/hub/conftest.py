"""In-process hub tier: JupyterHub's own MockHub fixtures (`app`), as dockerspawner's tests use them.

`tmp_cwd` (autouse) runs each module in a fresh folder, so MockHub's cookie secret and
database never land in the checkout.
"""

from __future__ import annotations

import pytest
from jupyterhub.tests.conftest import app, io_loop, ssl_tmpdir, tmp_cwd  # noqa: F401

from jupyter_hds import events


@pytest.fixture
def recorded():
    """Every jupyter_hds event emitted during the test, in order."""
    seen = []
    events.subscribe(seen.append)
    yield seen
    events.unsubscribe(seen.append)
