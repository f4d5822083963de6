"""Volume benchmark: what a project's storage volume adds to a start and a stop (run as root).

Prints the median seconds to create a volume of each plan's size (first start of a project),
mount an existing one (a start), unmount it (the last stop), read its use (every sample) and
grow it offline (a start after a plan upgrade). Run: `make bench`, or this file with the
venv's python.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hds_quota.plans import Plans
from hds_quota.volumes import ProjectVolumes


def timed(function, *args) -> float:
    began = time.perf_counter()
    function(*args)
    return time.perf_counter() - began


def life_of_a_volume(volumes: ProjectVolumes, project: str, size: int) -> dict[str, float]:
    """Seconds of each step a project's volume goes through."""
    steps = {
        "create": timed(volumes.ensure, project, size, False),
        "usage": timed(volumes.usage, project),
        "unmount": timed(volumes.unmount, project),
        "mount": timed(volumes.ensure, project, size, False),
    }
    volumes.unmount(project)
    steps["grow x2"] = timed(volumes.ensure, project, 2 * size, False)
    volumes.unmount(project)
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        volumes = ProjectVolumes(Path(name) / "volumes", Path(name) / "projects")
        for plan in Plans().all():
            rounds = [
                life_of_a_volume(volumes, f"{plan.name}-{index}", plan.storage)
                for index in range(args.rounds)
            ]
            gib = plan.storage / 1024**3
            print(f"{plan.name} plan, {gib:.0f} GiB volume, {args.rounds} rounds:")
            for step in rounds[0]:
                median = statistics.median(r[step] for r in rounds)
                print(f"  {step:8s} median {median:6.3f} s")
            images = list(volumes.images_root.glob("*.ext4"))
            disk = sum(image.stat().st_blocks * 512 for image in images)
            print(f"  host disk taken by {len(images)} empty volumes: {disk / 1024**2:.0f} MiB")
            for image in images:
                image.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
