"""In-process hub tier: JupyterHub's own MockHub fixtures (`app`), as dockerspawner's tests use them."""

from jupyterhub.tests.conftest import app, io_loop, ssl_tmpdir  # noqa: F401
