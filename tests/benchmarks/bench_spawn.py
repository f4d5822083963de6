"""Spawn benchmark: a project server through Jupyter HDS vs plain DockerSpawner vs a bare `docker run`.

Same image, same machine, one run. The three setups:
- ours: the shipped hub (`tests/support/hub.py` RealHub: the HDS config, its services), a
  project with one member;
- plain: JupyterHub with plain DockerSpawner and only what it needs (`harness.PlainHub`, the
  config is written there), servers on Docker's default bridge;
- bare: `docker run IMAGE jupyter server` on the default bridge;
- bare + single-user imports (a reference, not a goal): the same `docker run`, whose Python
  first imports what the image's `jupyterhub-singleuser` imports beyond `jupyter server`
  (`jupyterhub.singleuser.extension`: JupyterHub's auth, its database layer, aiohttp). The
  hubs' servers run `jupyterhub-singleuser`, which cannot run without a hub to answer it; this
  row shows how much of the gap between ours and bare is that upstream layer's start-up.
Every start is watched the same way (`harness.Probe`): the engine's create and start events,
then the server's `/api/status` polled every 50 ms at the container, then through the proxy.
Rounds take turns (ours, plain, bare, ours, ...), so load from elsewhere falls on all three;
the first round warms caches and is dropped. Prints medians, p95, the ratios, each server's
CPU seconds when it answered, and where the time goes (request -> container created ->
started -> answering -> through the proxy).

Run: `make bench` (or this file with the venv's python, after `make images`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (  # noqa: E402
    IMAGE,
    EngineEvents,
    PlainHub,
    Probe,
    Results,
    Start,
    bare_start,
    hub_start,
    hub_stop,
    median,
    percentile,
    remove_container,
)

from support import docker_engine  # noqa: E402
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import RealHub, make_dataset, make_project  # noqa: E402

SETUPS = ("ours", "plain", "bare", "bare_su")
LABELS = {"ours": "jupyter-hds project server", "plain": "plain DockerSpawner",
          "bare": "bare docker run", "bare_su": "bare + single-user imports"}  # fmt: skip
# `jupyter server` (what bare runs), after the imports `jupyterhub-singleuser` adds to it.
SINGLE_USER_IMPORTS = ("import jupyterhub.singleuser.extension; "
                       "from jupyter_server.serverapp import main; main()")  # fmt: skip


def bare_command(setup: str, token: str) -> list[str]:
    options = ["--ip=0.0.0.0", f"--IdentityProvider.token={token}"]
    if setup == "bare_su":
        return ["python", "-c", SINGLE_USER_IMPORTS, *options]
    return ["jupyter", "server", *options]


def run_rounds(rounds: int, workdir: Path, client: docker.DockerClient,
               probe: Probe) -> dict[str, list[Start]]:  # fmt: skip
    """`rounds` + 1 starts of each setup, taking turns; the first of each dropped."""
    ours = RealHub(workdir / "ours").start()
    plain = None
    try:
        make_dataset(ours, "bench-data", project="bench")
        make_project(ours, "bench", ["ann"], dataset="bench-data")
        plain = PlainHub(workdir / "plain").start()
        plain.api("POST", "/users/ann")
        starts: dict[str, list[Start]] = {s: [] for s in SETUPS}
        for number in range(rounds + 1):
            for setup in SETUPS:
                if setup.startswith("bare"):
                    name = f"{RUN_PREFIX}-{setup.replace('_', '-')}-{number}"
                    start = bare_start(client, probe, name, LABELS[setup],
                                       command=partial(bare_command, setup))  # fmt: skip
                    remove_container(client, name)
                else:
                    hub = ours if setup == "ours" else plain
                    start = hub_start(hub, probe, "ann", "bench", LABELS[setup])
                    hub_stop(hub, "ann", "bench")
                if start.error:
                    raise SystemExit(f"{setup} round {number} failed: {start.error}\n"
                                     f"{(ours if setup == 'ours' else plain).log(40)}")  # fmt: skip
                if number:
                    starts[setup].append(start)
                print(f"  round {number}{' (warm-up)' if not number else ''} {setup:7s} "
                      f"answers {start.direct:.2f} s, proxy "
                      f"{'-' if start.proxy is None else f'{start.proxy:.2f} s'}", flush=True)  # fmt: skip
        return starts
    finally:
        ours.stop()
        if plain:
            plain.stop()


def report(starts: dict[str, list[Start]], rounds: int, results: Results) -> None:
    def figure(setup: str, attribute: str, fraction: float = 0.5) -> float | None:
        values = [getattr(s, attribute) for s in starts[setup] if getattr(s, attribute) is not None]
        return percentile(values, fraction) if values else None

    def cell(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    rows = []
    for setup in SETUPS:
        rows.append([LABELS[setup], cell(figure(setup, "direct")), cell(figure(setup, "direct", .95)),
                     cell(figure(setup, "proxy")), cell(figure(setup, "proxy", .95)),
                     cell(figure(setup, "cpu"))])  # fmt: skip
    results.table(
        f"Spawn request -> server answering /api/status (s), {rounds} rounds after a warm-up, "
        f"polled every 50 ms",
        ["setup", "at the container, median", "p95", "through the proxy, median", "p95",
         "server CPU s at answer"], rows)  # fmt: skip
    steps = []
    for setup in SETUPS:
        done = starts[setup]
        created = median(s.created for s in done)
        started = median(s.started - s.created for s in done)
        answering = median(s.direct - s.started for s in done)
        proxied = median(s.proxy - s.direct for s in done) if done[0].proxy is not None else None
        steps.append([LABELS[setup], cell(created), cell(started), cell(answering), cell(proxied)])
    results.table("Where the time goes (medians, s)",
                  ["setup", "request -> container created", "created -> started",
                   "started -> answering", "answering -> through the proxy"], steps)  # fmt: skip
    ours, plain, bare, bare_su = (figure(s, "direct") for s in SETUPS)
    ours_proxy, plain_proxy = figure("ours", "proxy"), figure("plain", "proxy")
    ratios = {
        "ours / plain, through the proxy": ours_proxy / plain_proxy,
        "ours / plain, at the container": ours / plain,
        "ours through the proxy / bare": ours_proxy / bare,
        "ours at the container / bare": ours / bare,
        "ours through the proxy / bare + single-user imports": ours_proxy / bare_su,
        "bare + single-user imports / bare": bare_su / bare,
    }
    results.table("Ratios (medians)", ["", "ratio"], [[k, f"{v:.2f}"] for k, v in ratios.items()])
    results.figures.update({
        "ours_proxy_s": ours_proxy, "plain_proxy_s": plain_proxy, "bare_s": bare,
        "ours_direct_s": ours, "plain_direct_s": plain, "bare_singleuser_imports_s": bare_su,
        "server_cpu_s": figure("ours", "cpu"), "bare_cpu_s": figure("bare", "cpu"),
        "bare_singleuser_imports_cpu_s": figure("bare_su", "cpu"),
        **{k: v for k, v in ratios.items()},
    })  # fmt: skip
    results.goal(f"ours <= plain DockerSpawner (through the proxy: x{ratios['ours / plain, through the proxy']:.2f})",
                 ratios["ours / plain, through the proxy"] <= 1.0)  # fmt: skip
    results.goal(f"ours <= 1.3 x a bare docker run (through the proxy: x{ratios['ours through the proxy / bare']:.2f})",
                 ratios["ours through the proxy / bare"] <= 1.3)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    client.api.inspect_image(IMAGE)
    results = Results("spawn", f"Spawn: one server, ours vs plain DockerSpawner vs bare (image {IMAGE})",
                      f"python tests/benchmarks/bench_spawn.py --rounds {args.rounds}")  # fmt: skip
    events = EngineEvents(client)
    try:
        with tempfile.TemporaryDirectory() as folder:
            starts = run_rounds(args.rounds, Path(folder), client, Probe(events))
    finally:
        events.close()
        docker_engine.remove_objects(client, only_dead=False)
    report(starts, args.rounds, results)
    results.note("bare runs `jupyter server` (no hub to answer to); the hubs' servers run the "
                 "image's `jupyterhub-singleuser`, which checks each request's token with the hub "
                 "and, before it serves, imports JupyterHub's auth, database layer and aiohttp: "
                 "'bare + single-user imports' is bare with those imports (a reference row)")  # fmt: skip
    results.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
