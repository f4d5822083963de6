"""Footprint benchmark: an idle project server's memory next to a plain JupyterLab, the hub's
memory with 200 users and 50 projects, and the image's size next to a plain JupyterLab's.

- Idle server: our project server (the shipped hub, `support.hub.RealHub`) and, from the same
  image, `jupyter lab` with only JupyterLab's own server extensions (jupyterlab,
  jupyter_server_terminals; our hds_* extensions and jupyter-collaboration's off, through a
  config file given with --config), then that plain JupyterLab plus one extension at a time,
  to show what each costs. Memory is the container's cgroup, page cache excluded, after the
  server has answered and sat idle for a while.
- Hub: the hub process's resident memory (and its services') when empty, and after 200 users
  and 50 projects of 4 members each are made through its REST API (no server running).
- Image: its size next to an estimate of a plain JupyterLab image from the same base: the base
  layer plus the installed size of JupyterLab's dependency closure (read from the image's own
  installed distributions; no plain image can be pulled offline), and the largest
  distributions that JupyterLab does not need.
Goal: idle server <= 1.1 x the plain JupyterLab. Run: `make bench`, or this file with the
venv's python.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import (  # noqa: E402
    IMAGE,
    EngineEvents,
    MiB,
    PlainHub,
    Probe,
    Results,
    bare_start,
    container_pid,
    hub_start,
    memory_bytes,
    remove_container,
)

from support import docker_engine  # noqa: E402
from support.docker_engine import RUN_PREFIX  # noqa: E402
from support.hub import RealHub, make_project  # noqa: E402

SETTLE = 20  # seconds a server sits idle before its memory is read
OURS = ["hds_airlock", "hds_collaboration", "hds_data_guard"]
COLLABORATION = ["jupyter_server_ydoc", "jupyter_server_fileid"]
# Variant -> the image's server extensions it enables on top of JupyterLab's own.
VARIANTS: dict[str, list[str]] = {
    "plain JupyterLab (jupyter lab, none of ours)": [],
    "+ jupyter-collaboration (ydoc, fileid)": COLLABORATION,
    "+ hds_data_guard": ["hds_data_guard"],
    "+ hds_airlock": ["hds_airlock"],
    "+ hds_collaboration (and jupyter-collaboration)": ["hds_collaboration", *COLLABORATION],
    "jupyter lab with all the image enables": [*OURS, *COLLABORATION],
}
CLOSURE = r"""
import json, re
from importlib import metadata
def size(dist):
    return sum(f.size or 0 for f in (dist.files or []) if f.size)
dists = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d for d in metadata.distributions()}
def closure(name, seen):
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen or key not in dists:
        return seen
    seen.add(key)
    for requirement in dists[key].requires or []:
        if "extra ==" in requirement:
            continue
        closure(re.split(r"[ ;<>=!~\[(]", requirement, 1)[0], seen)
    return seen
lab = closure("jupyterlab", set())
sizes = {k: size(d) for k, d in dists.items()}
print(json.dumps({"lab": sum(sizes[k] for k in lab), "all": sum(sizes.values()),
                  "others": sorted(((v, k) for k, v in sizes.items() if k not in lab),
                                   reverse=True)[:10]}))
"""


IMPORTS = r"""
import importlib, json
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
figures, before = {}, rss()
for module in ["jupyter_server.serverapp", "jupyterlab", "jupyter_server_ydoc", "hds_collaboration",
               "hds_data_guard", "hds_airlock", "jupyterhub.singleuser"]:
    importlib.import_module(module)
    figures[module], before = rss() - before, rss()
print(json.dumps(figures))
"""


def import_costs() -> dict[str, float]:
    """MiB each module adds to a fresh Python's resident memory in the image, in this order."""
    done = subprocess.run(["docker", "run", "--rm", IMAGE, "python3", "-c", IMPORTS],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return {k: v / MiB for k, v in json.loads(done.stdout).items()}


def plain_hub_server(client, probe: Probe, workdir: Path) -> float:
    """MiB of an idle server of plain DockerSpawner (jupyterhub-singleuser, same image)."""
    hub = PlainHub(workdir / "plain").start()
    try:
        hub.api("POST", "/users/ann")
        start = hub_start(hub, probe, "ann", "lean", "plain")
        if start.error:
            raise SystemExit(f"plain DockerSpawner's server did not start: {start.error}")
        time.sleep(SETTLE)
        return memory_bytes(container_pid(client, hub.container("ann", "lean"))) / MiB
    finally:
        hub.stop()


def config_for(enabled: list[str]) -> str:
    off = {name: name in enabled for name in [*OURS, *COLLABORATION]}
    return f"c.ServerApp.jpserver_extensions = {off!r}\n"


def lab_command(number: int, token: str) -> list[str]:
    """`jupyter lab` with the `number`th variant's configuration, answering `token`."""
    return ["jupyter", "lab", "--ip=0.0.0.0", "--no-browser", f"--config=/cfg/{number}.py",
            f"--IdentityProvider.token={token}"]  # fmt: skip


def idle_servers(client, probe: Probe, workdir: Path) -> dict[str, float | None]:
    """MiB of each variant of `jupyter lab`, idle (None: it did not start)."""
    folder = workdir / "configs"
    folder.mkdir(mode=0o755)
    names, memory = {}, {}
    for number, (label, enabled) in enumerate(VARIANTS.items()):
        (folder / f"{number}.py").write_text(config_for(enabled))
        (folder / f"{number}.py").chmod(0o644)
        name = f"{RUN_PREFIX}-lab-{number}"
        start = bare_start(client, probe, name, label, command=partial(lab_command, number),
                           volumes=[f"{folder}:/cfg:ro"])  # fmt: skip
        names[label] = name if not start.error else None
        if start.error:
            print(f"  {label}: did not start: {start.error}", flush=True)
    time.sleep(SETTLE)
    for label, name in names.items():
        memory[label] = memory_bytes(container_pid(client, name)) / MiB if name else None
        if name:
            remove_container(client, name)
    return memory


def our_server(hub: RealHub, client, probe: Probe) -> float:
    make_project(hub, "lean", ["ann"])
    start = hub_start(hub, probe, "ann", "lean", "ours")
    if start.error:
        raise SystemExit(f"our server did not start: {start.error}\n{hub.log(40)}")
    time.sleep(SETTLE)
    return memory_bytes(container_pid(client, f"{RUN_PREFIX}-ann--lean")) / MiB


def rss(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS"))) / 1024


def hub_memory(hub: RealHub, users: int, projects: int) -> dict[str, float]:
    """MiB of the hub process (and of its services) empty, then with users and projects."""

    def services() -> float:
        children = subprocess.run(["pgrep", "-P", str(hub.process.pid)], capture_output=True,
                                  text=True).stdout.split()  # fmt: skip
        return sum(rss(int(pid)) for pid in children)

    figures = {"hub, empty": rss(hub.process.pid), "services, empty": services()}
    names = [f"user{i:03d}" for i in range(users)]
    answer = hub.api("POST", "/users", json={"usernames": names})
    assert answer.status_code in (201, 409), answer.text
    for number in range(projects):
        members = names[number * 4 : number * 4 + 4]
        make_project(hub, f"proj{number:02d}", members)
    for _ in range(3):  # the pages an admin and the services read, so caches are filled
        hub.api("GET", "/users?limit=1000")
        hub.api("GET", "/groups?limit=1000")
    time.sleep(5)
    figures[f"hub, {users} users and {projects} projects"] = rss(hub.process.pid)
    figures[f"services, {users} users and {projects} projects"] = services()
    return figures


def image_sizes(client) -> dict:
    image = client.api.inspect_image(IMAGE)
    base = [layer for layer in client.api.history(IMAGE) if layer["Size"]][-1]["Size"]
    done = subprocess.run(["docker", "run", "--rm", IMAGE, "python3", "-c", CLOSURE],
                          capture_output=True, text=True, check=True)  # fmt: skip
    closure = json.loads(done.stdout)
    return {"image": image["Size"], "base": base, **closure}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--projects", type=int, default=50)
    args = parser.parse_args(argv)
    client = docker_engine.connect()
    results = Results("footprint", f"Footprint: idle server, hub, image (image {IMAGE})",
                      "python tests/benchmarks/bench_footprint.py")  # fmt: skip
    events = EngineEvents(client)
    probe = Probe(events, interval=0.1, timeout=180)
    try:
        with tempfile.TemporaryDirectory() as folder:
            workdir = Path(folder)
            memory = idle_servers(client, probe, workdir)
            memory["plain DockerSpawner's server (jupyterhub-singleuser)"] = plain_hub_server(
                client, probe, workdir
            )
            hub = RealHub(workdir / "hub").start()
            try:
                ours = our_server(hub, client, probe)
                hubs = hub_memory(hub, args.users, args.projects)
            finally:
                hub.stop()
    finally:
        events.close()
        docker_engine.remove_objects(client, only_dead=False)
    sizes = image_sizes(client)
    report(results, ours, memory, hubs, sizes)
    costs = import_costs()
    results.table("What imports add to a fresh Python in the image, in this order (MiB)",
                  ["module", "MiB"], [[k, f"{v:.1f}"] for k, v in costs.items()])  # fmt: skip
    results.figures["import_mib"] = costs
    results.save()
    return 0


def report(results: Results, ours: float, memory: dict, hubs: dict, sizes: dict) -> None:
    plain = memory[next(iter(VARIANTS))]
    rows = [["jupyter-hds project server (jupyterhub-singleuser, via the hub)", f"{ours:.0f}",
             f"{ours / plain:.2f}" if plain else "-"]]  # fmt: skip
    rows += [[label, "-" if value is None else f"{value:.0f}",
              "-" if value is None or not plain else f"{value / plain:.2f}"]
             for label, value in memory.items()]  # fmt: skip
    results.table(f"Idle server memory, {SETTLE} s after it answered (MiB, cgroup, page cache "
                  "excluded)", ["server", "MiB", "x plain JupyterLab"], rows)  # fmt: skip
    results.table("Hub memory (resident, MiB)", ["", "MiB"],
                  [[k, f"{v:.0f}"] for k, v in hubs.items()])  # fmt: skip
    estimate = sizes["base"] + sizes["lab"]
    results.table("Image size (MB)", ["", "MB"], [
        [f"{IMAGE}", f"{sizes['image'] / 1e6:.0f}"],
        ["its base layer", f"{sizes['base'] / 1e6:.0f}"],
        ["Python packages installed (all)", f"{sizes['all'] / 1e6:.0f}"],
        ["JupyterLab's dependency closure", f"{sizes['lab'] / 1e6:.0f}"],
        ["plain JupyterLab image, estimated (base + that closure)", f"{estimate / 1e6:.0f}"],
    ])  # fmt: skip
    results.table("Largest installed distributions JupyterLab does not need (MB)",
                  ["distribution", "MB"],
                  [[name, f"{size / 1e6:.0f}"] for size, name in sizes["others"]])  # fmt: skip
    results.figures.update({"idle_ours_mib": ours, "idle_plain_mib": plain, "hub": hubs,
                            "image_bytes": sizes["image"], "plain_image_estimate": estimate})  # fmt: skip
    hubbed = memory.get("plain DockerSpawner's server (jupyterhub-singleuser)")
    if hubbed:
        results.note(f"ours / plain DockerSpawner's server (both jupyterhub-singleuser, same "
                     f"image): x{ours / hubbed:.2f}; what the hub's single-user extension imports "
                     f"is in the last table")  # fmt: skip
    if plain:
        results.goal(f"idle server <= 1.1 x a plain JupyterLab (x{ours / plain:.2f})",
                     ours <= 1.1 * plain)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
