"""Defer the database-migration imports JupyterHub's single-user server never uses (image build).

`jupyterhub-singleuser` imports `jupyterhub.orm` (through `jupyterhub.log` and
`jupyterhub.scopes`), which imports Alembic at the top of the module, although only the hub's
`check_db_revision` uses it: 0.08 s of CPU at every server start on this machine (Alembic's
dialects, Mako, Pygments; tests/benchmarks/bench_server_imports.py), in every project server,
for migrations that only the hub runs. This moves
those three imports into `check_db_revision`, which already imports its other Alembic helper
there; nothing else changes. It checks the exact text of the pinned release and stops the
build when that text is not there (another JupyterHub: look again, then update or drop this).
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
from pathlib import Path

TOP = (
    "import alembic.command\n"
    "import alembic.config\n"
    "import sqlalchemy\n"
    "from alembic.script import ScriptDirectory\n"
)
TOP_AFTER = "import sqlalchemy\n"
INNER = "    from .dbutil import _temp_alembic_ini\n"
INNER_AFTER = (
    "    import alembic.command\n"
    "    import alembic.config\n"
    "    from alembic.script import ScriptDirectory\n"
    "\n"
    "    from .dbutil import _temp_alembic_ini\n"
)


def patch(source: str) -> str:
    """`jupyterhub/orm.py` with its Alembic imports moved into `check_db_revision`."""
    for text in (TOP, INNER):
        if source.count(text) != 1:
            raise SystemExit(
                f"defer_hub_imports: jupyterhub/orm.py does not contain {text!r} exactly once; "
                "this JupyterHub is not the one the step was written for: check where orm.py "
                "imports Alembic now, then update images/singleuser/defer_hub_imports.py or "
                "remove it from the Dockerfile"
            )
    return source.replace(TOP, TOP_AFTER).replace(INNER, INNER_AFTER)


def main() -> int:
    spec = importlib.util.find_spec("jupyterhub")
    assert spec is not None and spec.origin, "jupyterhub is not installed"
    orm = Path(spec.origin).parent / "orm.py"
    orm.write_text(patch(orm.read_text()))
    # The .pyc pip wrote is stale now; the server's root filesystem is read-only, so Python
    # would compile orm.py again at every start. Compile it here.
    py_compile.compile(str(orm), doraise=True)
    print(f"defer_hub_imports: {orm}: Alembic imported by check_db_revision only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
