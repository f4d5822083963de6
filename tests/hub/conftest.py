"""In-process hub tier: JupyterHub's own MockHub fixtures (`app`), as dockerspawner's tests use them.

`tmp_cwd` (autouse) runs each module in a fresh folder, so MockHub's cookie secret and
database never land in the checkout.
"""

from jupyterhub.tests.conftest import app, io_loop, ssl_tmpdir, tmp_cwd  # noqa: F401
