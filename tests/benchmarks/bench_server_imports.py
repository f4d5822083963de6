"""Where a user server's start-up CPU goes in the image: `jupyter server`, each server extension,
and what `jupyterhub-singleuser` (the hubs' command) imports on top, package by package.

Each run is a fresh container of the image (read-only root, as a user server), whose Python
imports the pieces in order and reads its own CPU time after each: a piece's figure is what it
adds to what came before. Medians over `--runs`. The pieces after `jupyter server` and its
extensions are what a bare `docker run ... jupyter server` (bench_spawn's bare row) does not
pay and every hub's server does.

Run: this file with the venv's python, after `make images`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import IMAGE, Results, median  # noqa: E402

from support import docker_engine  # noqa: E402
from support.image import run_in_image  # noqa: E402

# (piece, modules), in import order. Up to "jupyterlab": what `jupyter server` loads with the
# image's server extensions; after it: what jupyterhub-singleuser adds.
PIECES = [
    ("python, jupyter_server", ["jupyter_server.serverapp"]),
    ("jupyterlab", ["jupyterlab", "jupyterlab.labapp"]),
    ("jupyter_server_ydoc, fileid, terminals", ["jupyter_server_ydoc.app",
     "jupyter_server_fileid.extension", "jupyter_server_terminals.app"]),
    ("hds_data_guard", ["hds_data_guard", "hds_data_guard.app"]),
    ("hds_collaboration", ["hds_collaboration", "hds_collaboration.app"]),
    ("hds_airlock", ["hds_airlock", "hds_airlock.app"]),
    ("singleuser: aiohttp (the hub's HTTP client)", ["aiohttp"]),
    ("singleuser: sqlalchemy", ["sqlalchemy"]),
    ("singleuser: sqlalchemy.orm", ["sqlalchemy.orm"]),
    ("singleuser: jupyterhub.orm", ["jupyterhub.orm"]),
    ("singleuser: the rest of jupyterhub.singleuser", ["jupyterhub.singleuser.extension"]),
]  # fmt: skip
FIRST_SINGLE_USER = 6

SCRIPT = """
import importlib, json, sys, time
pieces, seconds = {pieces}, []
for name, modules in pieces:
    for module in modules:
        importlib.import_module(module)
    seconds.append(time.process_time())
alembic = sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako", "pygments"))
print(json.dumps({{"cpu": seconds, "alembic": alembic}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    results = Results("server_imports", f"User server start-up CPU by piece (image {IMAGE})",
                      f"python tests/benchmarks/bench_server_imports.py --runs {args.runs}")  # fmt: skip
    runs = [run_in_image(client, SCRIPT.format(pieces=PIECES)) for _ in range(args.runs)]
    added = [[c - ([0.0] + run["cpu"])[i] for i, c in enumerate(run["cpu"])] for run in runs]
    rows = [[name, f"{median(a[i] for a in added):.3f}"] for i, (name, _) in enumerate(PIECES)]
    bare = median(run["cpu"][FIRST_SINGLE_USER - 1] for run in runs)
    extra = median(run["cpu"][-1] - run["cpu"][FIRST_SINGLE_USER - 1] for run in runs)
    rows += [["= jupyter server with the image's extensions", f"{bare:.3f}"],
             ["= what jupyterhub-singleuser imports on top", f"{extra:.3f}"]]  # fmt: skip
    results.table(f"CPU seconds each piece adds, in order (median of {args.runs} containers)",
                  ["piece", "CPU s"], rows)  # fmt: skip
    results.figures.update({"server_imports_cpu_s": bare, "singleuser_imports_cpu_s": extra})
    loaded = runs[0]["alembic"]
    results.note(f"modules of Alembic, Mako and Pygments (hub migrations only) loaded at start: "
                 f"{len(loaded)} (images/singleuser/defer_hub_imports.py keeps them out)")  # fmt: skip
    results.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
