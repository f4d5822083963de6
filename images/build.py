"""Build the Jupyter HDS images when missing or stale, offline: pinned wheels staged on the host."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
INPUTS_LABEL = "org.jupyter-hds.inputs"
BASE_TAG = "jupyter-hds/base:bookworm"
SINGLEUSER_TAG = os.environ.get("HDS_SINGLEUSER_IMAGE", "jupyter-hds/singleuser:latest")
# Build artefacts, never inputs. "lib" and "labextension" are what a JupyterLab extension's
# build makes from its sources (TypeScript output, the prebuilt extension).
IGNORED = {"__pycache__", ".pytest_cache", "build", "dist", "node_modules", ".ipynb_checkpoints",
           "lib", "labextension"}  # fmt: skip
NPM = ("npm", "--no-audit", "--no-fund", "--loglevel=error")


def log(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


def run(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def image_id(tag: str) -> str | None:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def image_label(tag: str, label: str) -> str | None:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return None
    return (json.loads(result.stdout) or {}).get(label)


def source_files(folder: Path) -> list[Path]:
    """Files of `folder` that go into an image, skipping build artefacts."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not IGNORED.intersection(p.relative_to(folder).parts)
        and not p.name.endswith((".pyc", ".egg-info"))
        and ".egg-info" not in str(p)
    )


def inputs_digest(paths: list[Path], extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def extension_projects() -> list[Path]:
    """Every Python project under extensions/: each is installed in the single-user image."""
    return sorted(p.parent for p in (ROOT / "extensions").glob("*/pyproject.toml"))


def build_labextension(project: Path) -> None:
    """Build the JupyterLab extension of `project` (one with a package.json) into its package.

    Installs exactly its package-lock.json from the npm registry (install scripts off; skipped
    while node_modules matches the lock), then runs its `build` script. A wheel built without
    the extension would ship a server half with no user interface: that stops the build.
    """
    lock = project / "package-lock.json"
    if not lock.is_file():
        raise SystemExit(f"images: {project.relative_to(ROOT)} has a package.json but no "
                         "package-lock.json; run `npm install` there and commit the lock "
                         "file")  # fmt: skip
    stamp = project / "node_modules" / ".hds-lock-sha256"
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    started = time.monotonic()
    if not stamp.is_file() or stamp.read_text() != wanted:
        log(f"installing the npm packages of {project.relative_to(ROOT)} (npm ci)")
        run(*NPM, "ci", "--ignore-scripts", cwd=project)
        stamp.write_text(wanted)
    run(*NPM, "run", "--silent", "build", cwd=project, stdout=subprocess.DEVNULL)
    meta = json.loads((project / "package.json").read_text())
    built = project / meta["jupyterlab"]["outputDir"] / "package.json"
    if not built.is_file() or "_build" not in json.loads(built.read_text())["jupyterlab"]:
        raise SystemExit(f"images: the JupyterLab extension of {project.relative_to(ROOT)} "
                         f"was not built ({built.relative_to(ROOT)} is missing or "
                         "incomplete)")  # fmt: skip
    log(f"built the JupyterLab extension of {project.relative_to(ROOT)} "
        f"in {time.monotonic() - started:.0f} s")  # fmt: skip


def ensure_base() -> str:
    """Return the base image to build on: $BASE_IMAGE if set, else one made by debootstrap."""
    wanted = os.environ.get("BASE_IMAGE")
    if wanted:
        if not image_id(wanted):
            log(f"pulling BASE_IMAGE={wanted}")
            run("docker", "pull", wanted)
        return wanted
    if not image_id(BASE_TAG):
        run(ROOT / "images" / "base" / "build.sh", BASE_TAG)
    return BASE_TAG


def stage_wheels(requirements: Path, cache: Path, target: Path) -> None:
    """Put exactly the pinned wheels in `target`, fetching into `cache` only what it lacks."""
    cache.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "-r", str(requirements)]
    offline = [*pip, "--no-index", "--find-links", str(cache), "--wheel-dir", str(target)]
    if subprocess.run(offline, capture_output=True).returncode != 0:
        log(f"fetching wheels for {requirements.relative_to(ROOT)} from the package index")
        run(*pip, "--wheel-dir", cache)
        run(*offline, stdout=subprocess.DEVNULL)


def build_singleuser(force: bool) -> None:
    folder = ROOT / "images" / "singleuser"
    base = ensure_base()
    projects = extension_projects()
    inputs = source_files(folder) + [f for p in projects for f in source_files(p)]
    digest = inputs_digest(inputs, extra=f"{base}@{image_id(base)}")
    if not force and image_label(SINGLEUSER_TAG, INPUTS_LABEL) == digest:
        log(f"{SINGLEUSER_TAG} is up to date")
        return
    log(f"building {SINGLEUSER_TAG} on {base}")
    started = int(time.time())
    stage = BUILD / "images" / "singleuser"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(folder, stage, ignore=shutil.ignore_patterns(*IGNORED))
    stage_wheels(folder / "requirements.txt", BUILD / "wheels" / "singleuser", stage / "wheels")
    for project in projects:
        if (project / "package.json").is_file():
            build_labextension(project)
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
            stage / "wheels", project)  # fmt: skip
    build = subprocess.run(
        ["docker", "build", "--build-arg", f"BASE_IMAGE={base}",
         "--label", f"{INPUTS_LABEL}={digest}", "--tag", SINGLEUSER_TAG, str(stage)],
        capture_output=True, text=True,
    )  # fmt: skip
    if build.returncode != 0:
        print(build.stdout[-6000:], build.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"images: building {SINGLEUSER_TAG} failed (output above)")
    prune_older_builds(started)
    log(f"{SINGLEUSER_TAG} built")


def prune_older_builds(before: int) -> None:
    """Remove untagged images earlier builds left (replaced images, their install stages).

    This build's own install stage stays: it is the cache of the next build.
    """
    subprocess.run(
        ["docker", "image", "prune", "--force", "--filter", "dangling=true",
         "--filter", "label=org.jupyter-hds.image", "--filter", f"until={before}"],
        capture_output=True, check=False,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    build_singleuser(args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
