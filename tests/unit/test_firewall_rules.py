"""The host firewall rules for a project bridge (the real rules are tried in tests/docker)."""

from jupyter_hds.projects.firewall import rules_for


def test_ipv4_lets_in_replies_and_the_hub_port_then_drops():
    rules = rules_for("hdsabc", 8081)
    assert [r[-1] for r in rules] == ["ACCEPT", "ACCEPT", "DROP"]
    assert rules[1][rules[1].index("--dport") : rules[1].index("--dport") + 2] == [
        "--dport",
        "8081",
    ]
    assert all(r[:2] == ["-i", "hdsabc"] for r in rules)


def test_ipv6_drops_everything():
    assert [r[-1] for r in rules_for("hdsabc", 8081, ipv6=True)] == ["DROP"]
