"""Restart benchmark: how long the hub takes to stop and to come back, and what a researcher at
work sees meanwhile.

A real hub (the shipped config) with one member's server running, the member's session
reading the server's contents API through the public proxy every 0.1 s. Prints, over a few
rounds: the seconds from SIGTERM to the hub process gone (also for a hub started with SIGINT
ignored, as a shell's background job starts it); from a new hub process to its API answering
through the proxy, and to JupyterHub's "now running"; after `kill -9`; and the member's failed
requests, with the proxy apart (as shipped) and with the proxy started by the hub (for
comparison). Goals (issue 18): stop < 5 s, back < 10 s.

Run: `make bench` (or this file with the venv's python, after `make images`).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import docker_engine  # noqa: E402
from support.hub import RealHub, make_dataset, make_project  # noqa: E402
from support.member import Member  # noqa: E402

EXTRA_CONFIG = 'c.JupyterHub.authenticator_class = "dummy"\n'


class BackgroundHub(RealHub):
    """A hub started with SIGINT ignored, as `jupyterhub &` in a script starts it."""

    def command(self) -> tuple[list[str], Path]:
        command, cwd = super().command()
        return ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *command], cwd


class HubStartsItsProxy(RealHub):
    """The proxy started (and stopped) by the hub itself: JupyterHub's default."""

    def command(self) -> tuple[list[str], Path]:
        command, cwd = super().command()
        return [c for c in command if "should_start" not in c], cwd

    def start_proxy(self, timeout: float = 30) -> None:
        """The hub starts it."""


def working_member(hub: RealHub) -> Member:
    make_dataset(hub, "bench-data", project="bench")
    make_project(hub, "bench", ["ann"], dataset="bench-data")
    hub.api("POST", "/users/ann/servers/bench").raise_for_status()
    hub.wait_for_server("ann", "bench")
    member = Member(hub, "ann", "bench")
    member.open_server()
    member.keep_working(every=0.1)
    return member


def restart_rounds(hub: RealHub, rounds: int, stop: Callable[[], object]) -> dict[str, list]:
    """Stop the hub with `stop`, start it again; time each part."""
    figures: dict[str, list] = {"stop": [], "answering": [], "running": []}
    for _ in range(rounds):
        began = time.monotonic()
        stop()
        stopped = time.monotonic()
        hub.start_hub(timeout=180)
        figures["stop"].append(stopped - began)
        figures["answering"].append(hub.answered_at - stopped)
        figures["running"].append(time.monotonic() - stopped)
        time.sleep(2)
    return figures


def failures(member: Member, since: float) -> tuple[int, int, float]:
    """Requests sent since `since`, how many failed, and the longest run of failures (s)."""
    sent = [o for o in member.outcomes if o.at >= since]
    longest = 0.0
    for failed, run in itertools.groupby(sent, key=lambda o: o.status != 200):
        run = list(run)
        if failed:
            longest = max(longest, run[-1].at + run[-1].seconds - run[0].at)
    return len(sent), sum(o.status != 200 for o in sent), longest


def line(label: str, values: list[float]) -> str:
    return (
        f"  {label:52s} median {statistics.median(values):5.1f} s"
        f"  (min {min(values):.1f}, max {max(values):.1f})"
    )


def measure(kind: type[RealHub], folder: Path, rounds: int, kill: bool) -> dict:
    hub = kind(folder, extra_config=EXTRA_CONFIG).start(timeout=180)
    try:
        member = working_member(hub)
        since = time.monotonic()
        figures = restart_rounds(hub, rounds, hub.stop_hub)
        if kill:
            figures["killed"] = restart_rounds(hub, rounds, hub.kill_hub)["running"]
        figures["member"] = failures(member, since)
        member.close()
        return figures
    finally:
        hub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    try:
        with tempfile.TemporaryDirectory() as folder:
            apart = measure(RealHub, Path(folder) / "apart", args.rounds, kill=True)
            background = measure(BackgroundHub, Path(folder) / "bg", 1, kill=False)
            by_hub = measure(HubStartsItsProxy, Path(folder) / "by-hub", 1, kill=False)
    finally:
        docker_engine.remove_objects(client, only_dead=False)
    print(f"hub restarts with one server running, {args.rounds} rounds")
    print(line("stop: SIGTERM -> hub process gone", apart["stop"]))
    print(line("stop, hub started with SIGINT ignored", background["stop"]))
    print(line("start: new hub -> its API answers through the proxy", apart["answering"]))
    print(line("start: new hub -> 'JupyterHub is now running'", apart["running"]))
    print(line("after kill -9: new hub -> 'now running'", apart["killed"]))
    for label, figures in (("proxy apart (shipped)", apart), ("proxy started by the hub", by_hub)):
        sent, failed, longest = figures["member"]
        print(
            f"  member's requests, {label:28s} {failed} of {sent} failed, longest {longest:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
