"""Host firewall for project networks: containers reach the hub's API port, nothing else."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

CHAIN = "HDS-INPUT"


class FirewallError(RuntimeError):
    """The host firewall could not be set; user servers must not start without it."""


def _run(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([tool, "-w", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise FirewallError(f"{tool} {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def _tools() -> list[str]:
    if not shutil.which("iptables"):
        raise FirewallError("iptables is not installed; install Debian's iptables package")
    return ["iptables"] + (["ip6tables"] if shutil.which("ip6tables") else [])


def _ensure_chain(tool: str) -> None:
    if _run(tool, "-n", "-L", CHAIN, check=False).returncode != 0:
        _run(tool, "-N", CHAIN)
    if _run(tool, "-C", "INPUT", "-j", CHAIN, check=False).returncode != 0:
        _run(tool, "-I", "INPUT", "1", "-j", CHAIN)


def rules_for(bridge: str, hub_port: int, ipv6: bool = False) -> list[list[str]]:
    """The rules for one project bridge: replies and the hub API in, everything else dropped."""
    tag = ["-m", "comment", "--comment", f"hds:{bridge}"]
    if ipv6:
        # Project networks have no IPv6: nothing from them reaches the host that way.
        return [["-i", bridge, *tag, "-j", "DROP"]]
    return [
        ["-i", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", *tag, "-j", "ACCEPT"],
        ["-i", bridge, "-p", "tcp", "--dport", str(hub_port), *tag, "-j", "ACCEPT"],
        ["-i", bridge, *tag, "-j", "DROP"],
    ]


def close_bridge(bridge: str, hub_port: int) -> None:
    """Let containers on `bridge` reach only the hub's port on the host (idempotent)."""
    for tool in _tools():
        _ensure_chain(tool)
        _prune(tool, lambda tagged: not Path("/sys/class/net", tagged).exists())
        for rule in rules_for(bridge, hub_port, ipv6=tool == "ip6tables"):
            if _run(tool, "-C", CHAIN, *rule, check=False).returncode != 0:
                _run(tool, "-A", CHAIN, *rule)


def forget_bridge(bridge: str) -> None:
    """Remove the rules of a bridge whose network is gone."""
    for tool in _tools():
        _prune(tool, lambda tagged: tagged == bridge)


def _prune(tool: str, doomed: Callable[[str], bool]) -> None:
    """Delete the chain's rules whose bridge `doomed` selects (rules of vanished bridges, say)."""
    for line in _run(tool, "-S", CHAIN, check=False).stdout.splitlines():
        words = shlex.split(line)
        tags = [w[len("hds:") :] for w in words if w.startswith("hds:")]
        if words[:1] == ["-A"] and tags and doomed(tags[0]):
            _run(tool, "-D", *words[1:], check=False)
