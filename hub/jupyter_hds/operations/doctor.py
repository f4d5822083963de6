"""`hds doctor`: is this host's service healthy, and if not, what to do about each problem.

Each check turns facts about the host (gathered by `probes.Probe`, or a fake in tests) into
findings; a finding that is a problem names the fix. Plain Python: no Docker, iptables or
HTTP here, so every verdict is tested with made-up facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..backup.catalogue import age


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str
    fix: str = ""

    def line(self) -> str:
        head = f"{'ok' if self.ok else 'PROBLEM':8} {self.check:9} {self.message}"
        return head + (f"\n{'':18}-> {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Volumes:
    """Project volumes mounted on the host, and projects whose servers run."""

    mounted: dict[str, str]  # mount point -> project, of this state's volume images
    running: dict[str, list[str]]  # project -> its running containers' names
    read_points: list[str] = field(default_factory=list)  # left by an interrupted backup


@dataclass(frozen=True)
class Firewall:
    chain: bool  # HDS-INPUT exists
    jump: bool  # INPUT sends to it
    missing: dict[str, int]  # bridge of a running project network -> rules missing
    guarded: bool  # a running hub's guard refuses its API port to all but loopback, bridges


@dataclass(frozen=True)
class Audit:
    intact: bool
    head_seq: int | None
    problems: list[str]
    oldest_inbox_seconds: float | None  # the oldest event file waiting to be chained


@dataclass(frozen=True)
class Thresholds:
    min_free_fraction: float = 0.10
    min_free_bytes: int = 2 * 1024**3
    inbox_stale_seconds: float = 300
    backup_max_age: timedelta = timedelta(hours=26)


class Probe(Protocol):
    """Facts about the host; each raises with a readable message when it cannot look."""

    def hub_health(self) -> int: ...
    def proxy_health(self) -> int: ...
    def engine(self) -> str: ...
    def images(self) -> dict[str, bool]: ...
    def disk(self) -> tuple[int, int]: ...
    def volumes(self) -> Volumes: ...
    def firewall(self) -> Firewall: ...
    def audit(self) -> Audit: ...
    def last_backup(self) -> datetime | None: ...
    def now(self) -> datetime: ...


def ok(check: str, message: str) -> list[Finding]:
    return [Finding(check, True, message)]


def problem(check: str, message: str, fix: str) -> Finding:
    return Finding(check, False, message, fix)


def check_hub(status: int) -> list[Finding]:
    if status == 200:
        return ok("hub", "/hub/health answers 200")
    fix = "journalctl -u jupyter-hds-hub -n 100; systemctl restart jupyter-hds-hub"
    return [problem("hub", f"/hub/health answers {status}", fix)]


def check_proxy(status: int) -> list[Finding]:
    if status == 200:
        return ok("proxy", "the public address reaches the hub")
    fix = "systemctl status jupyter-hds-proxy (and nginx, if it fronts the hub)"
    return [problem("proxy", f"the public address answers {status} for /hub/health", fix)]


def check_engine(version: str) -> list[Finding]:
    return ok("engine", f"Docker {version} answers")


def check_images(images: dict[str, bool]) -> list[Finding]:
    missing = sorted(name for name, there in images.items() if not there)
    if missing:
        fix = "make images (or load the image on this host: docker load -i FILE)"
        return [problem("images", f"missing: {', '.join(missing)}", fix)]
    return ok("images", f"{len(images)} image(s) present: {', '.join(sorted(images))}")


def check_disk(free_total: tuple[int, int], limits: Thresholds) -> list[Finding]:
    free, total = free_total
    text = f"{free / 1024**3:.1f} GiB free of {total / 1024**3:.1f} GiB in the state folder"
    if free < limits.min_free_bytes or free < total * limits.min_free_fraction:
        fix = (
            "hds usage volumes shows the largest projects; grow the disk, or move datasets/ "
            "or project-volumes/ to another disk mounted there"
        )
        return [problem("disk", text, fix)]
    return ok("disk", text)


def check_volumes(volumes: Volumes) -> list[Finding]:
    found = [
        problem("volumes", f"{point} is mounted by an interrupted backup",
                f"fsfreeze -u {point}; umount {point}")
        for point in volumes.read_points
    ]  # fmt: skip
    mounted = {project: point for point, project in volumes.mounted.items()}
    for project, point in sorted(mounted.items()):
        if project not in volumes.running:
            message = f"the volume of {project} is mounted but none of its servers runs"
            fix = f"umount {point} (the hub mounts it again at the next start)"
            found.append(problem("volumes", message, fix))
    for project, containers in sorted(volumes.running.items()):
        if project not in mounted:
            message = (
                f"{', '.join(containers)} of {project} run without its volume mounted (no "
                "storage limit; their files land outside the volume)"
            )
            fix = f"stop the servers of {project} and start them again"
            found.append(problem("volumes", message, fix))
    return found or ok("volumes", f"{len(mounted)} mounted, each with servers running")


def check_firewall(rules: Firewall) -> list[Finding]:
    if not rules.chain or not rules.jump:
        what = "HDS-INPUT chain is missing" if not rules.chain else "INPUT does not use HDS-INPUT"
        fix = (
            "start any project server (the hub sets the chain), or: iptables -N HDS-INPUT; "
            "iptables -I INPUT 1 -j HDS-INPUT"
        )
        return [problem("firewall", f"{what}: containers may reach every host port", fix)]
    broken = {bridge: n for bridge, n in rules.missing.items() if n}
    if broken:
        names = ", ".join(f"{bridge} ({n} rule(s))" for bridge, n in sorted(broken.items()))
        fix = (
            "stop those projects' servers and start them again (each start sets its "
            "network's rules; a firewall reload drops them)"
        )
        return [problem("firewall", f"rules missing for running project networks: {names}", fix)]
    if not rules.guarded:
        message = "the hub's API port is open to every interface: no running hub's guard"
        fix = (
            "restart jupyter-hds-hub (it closes its API port to all but loopback and the "
            "project bridges as it starts)"
        )
        return [problem("firewall", message, fix)]
    return ok("firewall", f"HDS-INPUT in place; {len(rules.missing)} project network(s) closed")


def check_audit(audit: Audit, limits: Thresholds) -> list[Finding]:
    if audit.intact:
        found = ok("audit", f"chain head seq {audit.head_seq} intact")
    else:
        message = "the open segment's chain breaks: " + "; ".join(audit.problems[:3])
        fix = (
            "hds audit verify (the full report); keep a copy of the audit folder and tell the "
            "data protection officer"
        )
        found = [problem("audit", message, fix)]
    waiting = audit.oldest_inbox_seconds
    if waiting is not None and waiting > limits.inbox_stale_seconds:
        message = (
            f"events wait in the inbox for {waiting / 60:.0f} min: the audit service is not "
            "chaining them"
        )
        fix = "journalctl -u jupyter-hds-hub | grep -i audit; systemctl restart jupyter-hds-hub"
        found.append(problem("audit", message, fix))
    return found


def check_backup(last: datetime | None, now: datetime, limits: Thresholds) -> list[Finding]:
    if last is None:
        fix = "hds backup create; systemctl enable --now jupyter-hds-backup.timer"
        return [problem("backup", "no complete backup in the repository", fix)]
    text = f"newest backup {age(last, now)} old"
    if now - last > limits.backup_max_age:
        fix = "systemctl status jupyter-hds-backup.service; journalctl -u jupyter-hds-backup"
        return [problem("backup", f"{text} (more than {limits.backup_max_age})", fix)]
    return ok("backup", text)


def examine(probe: Probe, limits: Thresholds | None = None) -> list[Finding]:
    """Every check, in order; a check that cannot look is a problem saying why."""
    limits = limits or Thresholds()
    checks: list[tuple[str, Callable[[], Any], Callable[[Any], list[Finding]]]] = [
        ("hub", probe.hub_health, check_hub),
        ("proxy", probe.proxy_health, check_proxy),
        ("engine", probe.engine, check_engine),
        ("images", probe.images, check_images),
        ("disk", probe.disk, lambda value: check_disk(value, limits)),
        ("volumes", probe.volumes, check_volumes),
        ("firewall", probe.firewall, check_firewall),
        ("audit", probe.audit, lambda value: check_audit(value, limits)),
        ("backup", probe.last_backup, lambda value: check_backup(value, probe.now(), limits)),
    ]
    findings = []
    for name, look, judge in checks:
        try:
            value = look()
        except Exception as error:  # noqa: BLE001 - any failure to look is itself the finding
            findings.append(problem(name, f"could not check: {error}", _unchecked_fix(name)))
            continue
        findings += judge(value)
    return findings


def _unchecked_fix(name: str) -> str:
    return {
        "hub": "systemctl status jupyter-hds-hub; journalctl -u jupyter-hds-hub -n 100",
        "proxy": "systemctl status jupyter-hds-proxy",
        "engine": "systemctl start docker (scripts/ensure-docker.sh installs it)",
        "backup": "check c.Backup.repository and c.Backup.password_file (hds settings show)",
    }.get(name, "run hds doctor as root on the hub's host")
