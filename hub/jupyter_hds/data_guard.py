"""The data guard's settings on the hub side: what a user server may read from its user.

The guard itself runs inside each user server (extensions/data_guard); the hub makes sure
nothing in the user's home can reconfigure it.
"""

from __future__ import annotations

from traitlets.config import Config

from .deployment import Deployment


def configure(c: Config, deployment: Deployment) -> None:
    # No user-level Jupyter config or extensions: the guard's locks hold (docs/data-guard.md).
    c.Spawner.disable_user_config = True
    # Researchers land in their own writable space (the rest of $HOME is read-only).
    c.Spawner.default_url = "/lab/tree/work"
