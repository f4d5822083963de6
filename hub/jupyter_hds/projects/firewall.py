"""Host firewall: project containers reach the hub's API port and nothing else of the host, and
nothing but loopback and the project bridges reaches the hub's API port."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

CHAIN = "HDS-INPUT"
BRIDGE_TAG = "hds:"  # + bridge: the rules of one project network's bridge
HUB_TAG = "hds-hub:"  # + port:pid: the hub API port closed, for the hub with that pid
# One change of the chain at a time in this process: servers start at once in the hub's
# threads, and two that both find the chain missing would both create it.
_CHANGING = threading.RLock()


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


def _ensure_chain(tool: str) -> str:
    """Create the chain and its jump from INPUT if missing; return the chain's rules (-S)."""
    listed = _run(tool, "-S", CHAIN, check=False)
    if listed.returncode != 0:
        _run(tool, "-N", CHAIN)
    if _run(tool, "-C", "INPUT", "-j", CHAIN, check=False).returncode != 0:
        _run(tool, "-I", "INPUT", "1", "-j", CHAIN)
    return listed.stdout if listed.returncode == 0 else ""


def _present(tool: str, rule: list[str]) -> bool:
    return _run(tool, "-C", CHAIN, *rule, check=False).returncode == 0


def rules_for(bridge: str, hub_port: int, ipv6: bool = False) -> list[list[str]]:
    """The rules for one project bridge: replies and the hub API in, everything else dropped."""
    tag = ["-m", "comment", "--comment", f"{BRIDGE_TAG}{bridge}"]
    if ipv6:
        # Project networks have no IPv6: nothing from them reaches the host that way.
        return [["-i", bridge, *tag, "-j", "DROP"]]
    return [
        ["-i", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", *tag, "-j", "ACCEPT"],
        ["-i", bridge, "-p", "tcp", "--dport", str(hub_port), *tag, "-j", "ACCEPT"],
        ["-i", bridge, *tag, "-j", "DROP"],
    ]


def hub_port_rules(hub_port: int, owner: int) -> list[list[str]]:
    """The hub API port refused on every interface but loopback, for the hub whose pid is `owner`.

    Kept at the end of the chain: each project bridge's rules, above, let its containers in
    first. Refused with a reset, as a port nobody listens on would be.
    """
    tag = ["-m", "comment", "--comment", f"{HUB_TAG}{hub_port}:{owner}"]
    return [
        ["!", "-i", "lo", "-p", "tcp", "--dport", str(hub_port), *tag,
         "-j", "REJECT", "--reject-with", "tcp-reset"],
    ]  # fmt: skip


def close_bridge(bridge: str, hub_port: int) -> None:
    """Let containers on `bridge` reach only the hub's port on the host (idempotent).

    Run by the hub at every server start, so it also puts back the hub port's guard. Safe
    from several threads at once; about ten iptables runs when every rule is in place.
    """
    with _CHANGING:
        for tool in _tools():
            listing = _ensure_chain(tool)
            _prune(tool, _gone_bridge, listing)
            rules = rules_for(bridge, hub_port, ipv6=tool == "ip6tables")
            if not all(_present(tool, rule) for rule in rules):
                # All of a bridge's rules, in order, ahead of the hub port's guard.
                _prune(tool, lambda kind, tagged: kind == BRIDGE_TAG and tagged == bridge)
                for rule in reversed(rules):
                    _run(tool, "-I", CHAIN, "1", *rule)
            _guard(tool, hub_port, listing)


def forget_bridge(bridge: str) -> None:
    """Remove the rules of a bridge whose network is gone."""
    with _CHANGING:
        for tool in _tools():
            _prune(tool, lambda kind, tagged: kind == BRIDGE_TAG and tagged == bridge)


def guard_hub_port(hub_port: int) -> None:
    """Refuse the hub's API port to every interface but loopback and the project bridges.

    Idempotent; the rule names this process (the hub) and goes when a later hub finds that
    process gone, so a restarted hub leaves one guard and a killed one leaves its port closed.
    """
    with _CHANGING:
        for tool in _tools():
            _guard(tool, hub_port, _ensure_chain(tool))


def _guard(tool: str, hub_port: int, listing: str) -> None:
    """guard_hub_port for one tool whose chain exists and listed `listing` (-S) lately."""
    for rule in hub_port_rules(hub_port, os.getpid()):
        if not _present(tool, rule):
            _run(tool, "-A", CHAIN, *rule)
    _prune(tool, lambda kind, tagged: kind == HUB_TAG and not _owner_alive(tagged), listing)


def guard_starting_hub(hub_port: int) -> None:
    """`guard_hub_port` from the hub's config page, in the hub that is starting only.

    The page runs before the hub binds its port; tools and tests that read the page (outside
    a JupyterHub application) leave the host's firewall alone.
    """
    from jupyterhub.app import JupyterHub

    if JupyterHub.initialized():
        guard_hub_port(hub_port)


def hub_port_guarded(hub_port: int) -> bool:
    """Whether a running hub's guard refuses `hub_port` on every interface but loopback (for
    `hds doctor`: the guard of a hub that is gone does not count)."""
    for tool in _tools():
        owners = {
            int(tagged.rpartition(":")[2])
            for tagged in _tags(tool, HUB_TAG)
            if tagged.startswith(f"{hub_port}:") and _owner_alive(tagged)
        }
        if not any(_present(tool, hub_port_rules(hub_port, o)[0]) for o in owners):
            return False
    return True


def forget_hub_port(hub_port: int, owner: int) -> None:
    """Remove the guard the hub with pid `owner` set on `hub_port` (tests' hubs, when done)."""
    with _CHANGING:
        for tool in _tools():
            _prune(tool, lambda kind, tagged: kind == HUB_TAG and tagged == f"{hub_port}:{owner}")


def _gone_bridge(kind: str, tagged: str) -> bool:
    return kind == BRIDGE_TAG and not _interface_exists(tagged)


def _interface_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _owner_alive(tagged: str) -> bool:
    """Whether the hub named by a guard's tag (`port:pid`) still runs."""
    pid = tagged.rpartition(":")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tags(tool: str, kind: str) -> list[str]:
    """The values of the chain's tags of `kind` (a *_TAG)."""
    words = [w for line in _run(tool, "-S", CHAIN, check=False).stdout.splitlines()
             for w in shlex.split(line)]  # fmt: skip
    return [w[len(kind) :] for w in words if w.startswith(kind)]


def _prune(tool: str, doomed: Callable[[str, str], bool], listing: str | None = None) -> None:
    """Delete the chain's rules whose tag `doomed(kind, value)` selects (kind: a *_TAG), from
    `listing` (the chain's -S, listed since the last change of such rules) or a fresh one."""
    if listing is None:
        listing = _run(tool, "-S", CHAIN, check=False).stdout
    for line in listing.splitlines():
        words = shlex.split(line)
        if words[:1] != ["-A"]:
            continue
        for word in words:
            kind = next((k for k in (HUB_TAG, BRIDGE_TAG) if word.startswith(k)), None)
            if kind and doomed(kind, word[len(kind) :]):
                _run(tool, "-D", *words[1:], check=False)
                break
