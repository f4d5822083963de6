"""The order the HDS-INPUT chain keeps: project bridges first, the hub port's guard last.

iptables is replaced by a model of one chain (the real rules are tried in tests/docker);
what is checked here is the bookkeeping: insertions, repairs and pruning.
"""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from jupyter_hds.projects import firewall

DEAD_PID = 2**22 + 1  # above Linux's pid_max: no process has it


class Chain:
    """iptables -w, for INPUT and HDS-INPUT only."""

    def __init__(self):
        self.rules: dict[str, list[list[str]]] = {"INPUT": []}

    def __call__(self, tool, *args, check=True):
        op, name, *rest = args
        code, out = 0, ""
        if op in ("-S", "-C") and name not in self.rules:
            code = 1  # no such chain
        elif op == "-n":  # -n -L CHAIN
            code = 0 if rest[0] in self.rules else 1
        elif op == "-N":
            self.rules[name] = []
        elif op == "-C":
            code = 0 if list(rest) in self.rules[name] else 1
        elif op == "-A":
            self.rules[name].append(list(rest))
        elif op == "-I":
            self.rules[name].insert(int(rest[0]) - 1, list(rest[1:]))
        elif op == "-D":
            self.rules[name].remove(list(rest))
        elif op == "-S":
            out = "\n".join(
                [f"-N {name}"] + [shlex.join(["-A", name, *r]) for r in self.rules[name]]
            )
        return subprocess.CompletedProcess(args, code, out, "")

    def targets(self) -> list[str]:
        """Each rule of HDS-INPUT as `tag target`."""
        return [f"{r[r.index('--comment') + 1]} {r[r.index('-j') + 1]}" for r in self.chain]

    @property
    def chain(self) -> list[list[str]]:
        return self.rules[firewall.CHAIN]


@pytest.fixture
def chain(monkeypatch):
    model = Chain()
    monkeypatch.setattr(firewall, "_run", model)
    monkeypatch.setattr(firewall, "_tools", lambda: ["iptables"])
    monkeypatch.setattr(firewall, "_interface_exists", lambda name: name != "hdsgone")
    return model


def test_bridges_come_before_the_hub_ports_guard_whatever_the_order(chain):
    firewall.guard_hub_port(8081)
    firewall.close_bridge("hdsa", 8081)
    firewall.close_bridge("hdsb", 8081)
    me = f"hds-hub:8081:{os.getpid()}"
    assert chain.targets()[-1] == f"{me} REJECT"
    assert chain.targets()[:6] == [
        "hds:hdsb ACCEPT", "hds:hdsb ACCEPT", "hds:hdsb DROP",
        "hds:hdsa ACCEPT", "hds:hdsa ACCEPT", "hds:hdsa DROP",
    ]  # fmt: skip
    assert chain.rules["INPUT"] == [["-j", firewall.CHAIN]]


def test_the_guard_refuses_the_port_everywhere_but_loopback(chain):
    firewall.guard_hub_port(8081)
    [rule] = chain.chain
    assert rule[:7] == ["!", "-i", "lo", "-p", "tcp", "--dport", "8081"]
    assert rule[-4:] == ["-j", "REJECT", "--reject-with", "tcp-reset"]


def test_closing_a_bridge_twice_changes_nothing(chain):
    firewall.close_bridge("hdsa", 8081)
    once = [list(r) for r in chain.chain]
    firewall.close_bridge("hdsa", 8081)
    assert chain.chain == once


def test_a_bridge_missing_a_rule_gets_all_back_in_order_ahead_of_the_guard(chain):
    firewall.close_bridge("hdsa", 8081)
    chain.chain.pop(1)  # its hub-port ACCEPT, deleted by hand
    firewall.close_bridge("hdsa", 8081)
    assert chain.targets()[:3] == ["hds:hdsa ACCEPT", "hds:hdsa ACCEPT", "hds:hdsa DROP"]
    assert chain.chain[1] == firewall.rules_for("hdsa", 8081)[1]
    assert len(chain.chain) == 4


def test_a_new_hub_port_replaces_the_bridges_old_rules(chain):
    firewall.close_bridge("hdsa", 8081)
    firewall.close_bridge("hdsa", 9091)
    assert [r for r in chain.chain if "hds:hdsa" in r] == firewall.rules_for("hdsa", 9091)


def test_guards_of_hubs_that_are_gone_are_removed_by_the_next(chain):
    chain.rules[firewall.CHAIN] = firewall.hub_port_rules(8081, DEAD_PID)
    chain.rules[firewall.CHAIN] += firewall.hub_port_rules(9091, 1)  # pid 1 runs
    firewall.guard_hub_port(8081)
    assert chain.targets() == ["hds-hub:9091:1 REJECT", f"hds-hub:8081:{os.getpid()} REJECT"]


def test_rules_of_vanished_bridges_go_at_the_next_start(chain):
    chain.rules[firewall.CHAIN] = firewall.rules_for("hdsgone", 8081)
    firewall.close_bridge("hdsa", 8081)
    assert not [r for r in chain.chain if "hds:hdsgone" in r]


def test_forgetting_a_bridge_or_a_guard_leaves_the_rest(chain):
    firewall.close_bridge("hdsa", 8081)
    firewall.close_bridge("hdsb", 8081)
    firewall.forget_bridge("hdsa")
    firewall.forget_hub_port(8081, os.getpid())
    assert chain.targets() == ["hds:hdsb ACCEPT", "hds:hdsb ACCEPT", "hds:hdsb DROP"]


def test_the_config_page_sets_no_firewall_outside_a_running_hub(chain):
    firewall.guard_starting_hub(8081)
    assert chain.rules == {"INPUT": []}


def test_the_doctor_sees_a_running_hubs_guard_only(chain):
    assert not firewall.hub_port_guarded(8081)
    chain.rules[firewall.CHAIN] = firewall.hub_port_rules(8081, DEAD_PID)
    assert not firewall.hub_port_guarded(8081)
    firewall.guard_hub_port(8081)
    assert firewall.hub_port_guarded(8081) and not firewall.hub_port_guarded(9091)
