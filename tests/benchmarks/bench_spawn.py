"""Spawn benchmark: a project server through Jupyter HDS vs plain DockerSpawner vs a bare `docker run`.

Same image, same machine, one run, sequential spawns. Prints the median seconds from spawn
request to a server answering, and the ratios. Run: `make bench` (or this file with the venv's
python, after `make images`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import docker_engine  # noqa: E402
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import RealHub, make_dataset, make_project  # noqa: E402

IMAGE = os.environ.get("HDS_SINGLEUSER_IMAGE", "jupyter-hds/singleuser:latest")


def time_hub_spawns(hub: RealHub, user: str, server: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        response = hub.api("POST", f"/users/{user}/servers/{server}")
        response.raise_for_status()
        hub.wait_for_server(user, server)
        url = f"{hub.url}/user/{user}/{server}/api/status"
        while not requests.get(url, headers={"Authorization": f"token {hub.token}"}, timeout=10).ok:
            time.sleep(0.05)
        times.append(time.perf_counter() - began)
        hub.api("DELETE", f"/users/{user}/servers/{server}").raise_for_status()
        hub.wait_for_server(user, server, ready=False)
    return times


def hds_spawns(workdir: Path, rounds: int) -> list[float]:
    hub = RealHub(workdir / "hds").start()
    try:
        make_dataset(hub, "bench-data", project="bench")
        make_project(hub, "bench", ["ann"], dataset="bench-data")
        return time_hub_spawns(hub, "ann", "bench", rounds)
    finally:
        hub.stop()


def plain_dockerspawner_spawns(workdir: Path, rounds: int) -> list[float]:
    hub = RealHub(workdir / "plain")
    hub.extra_config = f"""
        c.JupyterHub.spawner_class = "docker"
        c.DockerSpawner.image = "{IMAGE}"
        c.DockerSpawner.prefix = "{RUN_PREFIX}"
        c.DockerSpawner.remove = True
        c.DockerSpawner.pull_policy = "never"
        c.DockerSpawner.network_name = "bridge"
        c.DockerSpawner.use_internal_ip = True
        c.DockerSpawner.hub_connect_url = "http://172.17.0.1:{hub.hub_port}"
        # No project guard: these servers belong to no project.
        c.JupyterHub.services = [s for s in c.JupyterHub.services if s["name"] != "project-guard"]
        c.JupyterHub.load_roles = [r for r in c.JupyterHub.load_roles if r["name"] != "project-guard"]
    """
    hub.start()
    # The hub closes its API port to every interface but loopback and project bridges; these
    # servers are on Docker's default bridge: let that one in for the benchmark.
    rule = ["-i", "docker0", "-p", "tcp", "--dport", str(hub.hub_port), "-j", "ACCEPT"]
    subprocess.run(["iptables", "-w", "-I", "HDS-INPUT", "1", *rule], check=True)
    try:
        hub.api("POST", "/users/ann")
        return time_hub_spawns(hub, "ann", "bench", rounds)
    finally:
        subprocess.run(["iptables", "-w", "-D", "HDS-INPUT", *rule], check=False)
        hub.stop()


def bare_docker_runs(client: docker.DockerClient, rounds: int) -> list[float]:
    times = []
    for index in range(rounds):
        name = f"{RUN_PREFIX}-bare-{index}"
        began = time.perf_counter()
        box = client.containers.run(
            IMAGE, ["jupyter", "server", "--ip=0.0.0.0", "--IdentityProvider.token=bench"],
            name=name, detach=True, remove=True, network="bridge",
        )  # fmt: skip
        box.reload()
        url = f"http://{box.attrs['NetworkSettings']['IPAddress']}:8888/api/status?token=bench"
        while True:
            try:
                if requests.get(url, timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        times.append(time.perf_counter() - began)
        box.stop(timeout=5)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    subprocess.run(["docker", "image", "inspect", IMAGE], check=True, capture_output=True)
    try:
        with tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            results = {
                "jupyter-hds project server": hds_spawns(workdir, args.rounds),
                "plain DockerSpawner": plain_dockerspawner_spawns(workdir, args.rounds),
                "bare docker run": bare_docker_runs(client, args.rounds),
            }
    finally:
        docker_engine.remove_objects(client, only_dead=False)
    bare = statistics.median(results["bare docker run"])
    print(f"spawn request -> server answering, {args.rounds} sequential rounds, image {IMAGE}")
    for label, times in results.items():
        median = statistics.median(times)
        print(f"  {label:28s} median {median:6.2f} s  (min {min(times):.2f}, max {max(times):.2f})"
              f"  x{median / bare:.2f} of bare docker run")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
