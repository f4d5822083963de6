"""The facts `hds doctor` judges, read from this host: the hub, Docker, mounts, iptables, files."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import requests
from traitlets.config import Config

from hds_quota.volumes import IMAGE_SUFFIX, loop_backing_file, mounts

from ..audit.entry import GENESIS
from ..audit.segments import last_entry, list_segments
from ..audit.verify import link_problem, verify_jsonl, verify_parquet
from ..backup.catalogue import catalogue, complete
from ..backup.config import Backup
from ..backup.create import work_folder
from ..backup.restic import Restic
from ..deployment import Deployment
from ..policy.projects import ProjectSettings
from ..projects import firewall
from ..projects.networks import bridge_of
from .doctor import Audit, Firewall, Thresholds, Volumes


class HostProbe:
    """This host's facts for the hub configured by `config` (its published settings)."""

    def __init__(self, config: Config):
        self.deployment = Deployment(config=config)
        self.backup = Backup(config=config)
        self.projects = ProjectSettings(config=config)
        self._docker: docker.DockerClient | None = None

    def thresholds(self) -> Thresholds:
        return Thresholds(backup_max_age=timedelta(hours=self.backup.max_age_hours))

    def now(self) -> datetime:
        return datetime.now(UTC)

    @property
    def client(self) -> docker.DockerClient:
        if self._docker is None:
            self._docker = docker.from_env(timeout=10)
        return self._docker

    # -- the hub --------------------------------------------------------------------------

    def hub_health(self) -> int:
        url = f"http://127.0.0.1:{self.deployment.hub_port}/hub/health"
        return requests.get(url, timeout=5).status_code

    def proxy_health(self) -> int:
        url = f"{self.deployment.public_url.rstrip('/')}/hub/health"
        return requests.get(url, timeout=5).status_code

    # -- Docker ---------------------------------------------------------------------------

    def engine(self) -> str:
        return self.client.version()["Version"]

    def images(self) -> dict[str, bool]:
        wanted = {self.projects.default_image, *self.projects.images.values()}
        found = {}
        for name in wanted:
            try:
                self.client.images.get(name)
                found[name] = True
            except docker.errors.ImageNotFound:
                found[name] = False
        return found

    def _servers(self) -> list[tuple[str, str, list[str]]]:
        """(project, container name, networks) of running containers using this state's
        project folders."""
        root = f"{self.deployment.projects.resolve()}/"
        found = []
        for container in self.client.containers.list():
            for mount in container.attrs.get("Mounts") or []:
                source = mount.get("Source") or ""
                if source.startswith(root):
                    project = source[len(root) :].split("/")[0]
                    networks = list(container.attrs["NetworkSettings"]["Networks"])
                    found.append((project, container.name, networks))
                    break
        return found

    # -- the host -------------------------------------------------------------------------

    def disk(self) -> tuple[int, int]:
        stat = os.statvfs(self.deployment.state)
        return stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize

    def volumes(self) -> Volumes:
        images = f"{self.deployment.volumes.resolve()}/"
        reading = f"{work_folder(self.deployment).resolve()}/"
        mounted, read_points = {}, []
        for point, device in mounts().items():
            backing = loop_backing_file(device) or ""
            if not backing.startswith(images):
                continue
            if point.startswith(reading):
                read_points.append(point)
            else:
                mounted[point] = Path(backing).name.removesuffix(IMAGE_SUFFIX)
        running: dict[str, list[str]] = {}
        for project, name, _ in self._servers():
            running.setdefault(project, []).append(name)
        return Volumes(mounted, running, sorted(read_points))

    def firewall(self) -> Firewall:
        chain = _iptables("-n", "-L", firewall.CHAIN)
        jump = chain and _iptables("-C", "INPUT", "-j", firewall.CHAIN)
        bridges = set()
        for _, _, networks in self._servers():
            for name in networks:
                bridges.add(bridge_of(self.client.api.inspect_network(name)))
        missing = {
            bridge: sum(
                not _iptables("-C", firewall.CHAIN, *rule)
                for rule in firewall.rules_for(bridge, self.deployment.hub_port)
            )
            for bridge in bridges
        }
        guarded = firewall.hub_port_guarded(self.deployment.hub_port)
        return Firewall(chain, jump, missing, guarded)

    # -- the record and the backups -------------------------------------------------------

    def audit(self) -> Audit:
        directory = self.deployment.audit
        segments = list_segments(directory)
        if not segments:
            return Audit(True, None, [], self._oldest_waiting(directory))
        last = segments[-1]
        summary = verify_jsonl(last) if not last.sealed else verify_parquet(last)
        problems = [str(b) for b in summary.breaks]
        before = last_entry(segments[-2]) if len(segments) > 1 else None
        if summary.count:
            linked = link_problem(
                summary.first_seq,
                summary.first_prev,
                before["seq"] if before else 0,
                before["hash"] if before else GENESIS,
            )
            if linked:
                problems.append(f"{last.name} start: {linked}")
        head = summary.last_seq or (before["seq"] if before else None)
        return Audit(not problems, head, problems, self._oldest_waiting(directory))

    def _oldest_waiting(self, directory: Path) -> float | None:
        """Seconds since the oldest event still in the inbox happened."""
        times = []
        for path in (directory / "inbox").glob("*"):
            if path.suffix not in (".jsonl", ".claimed"):
                continue
            try:
                with path.open() as stream:
                    times.append(json.loads(stream.readline())["time"])
            except (OSError, ValueError, KeyError):
                continue
        if not times:
            return None
        oldest = datetime.fromisoformat(min(times).replace("Z", "+00:00"))
        return (self.now() - oldest).total_seconds()

    def last_backup(self) -> datetime | None:
        done = complete(catalogue(Restic(self.backup).snapshots()))
        return done[-1].time if done else None


def _iptables(*args: str) -> bool:
    done = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    return done.returncode == 0
