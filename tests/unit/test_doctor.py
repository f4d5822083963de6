"""`hds doctor`'s verdicts: each check judged from made-up facts, and what it tells to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from jupyter_hds.operations.doctor import Audit, Firewall, Thresholds, Volumes, examine

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEALTHY = {
    "hub_health": 200,
    "proxy_health": 200,
    "engine": "20.10.24",
    "images": {"jupyter-hds/singleuser:latest": True},
    "disk": (50 * 1024**3, 100 * 1024**3),
    "volumes": Volumes({"/srv/state/projects/alpha": "alpha"}, {"alpha": ["jupyter-ann--alpha"]}),
    "firewall": Firewall(True, True, {"hds0123456789ab": 0}, True),
    "audit": Audit(True, 4711, [], 2.0),
    "last_backup": NOW - timedelta(hours=20),
}


@dataclass
class FakeProbe:
    """Facts as given; a fact that is an exception is raised when looked at."""

    facts: dict = field(default_factory=dict)

    def __getattr__(self, name):
        value = {**HEALTHY, **self.facts}[name]

        def look():
            if isinstance(value, Exception):
                raise value
            return value

        return look

    def now(self):
        return NOW


def problems(**facts) -> list[tuple[str, str, str]]:
    return [(f.check, f.message, f.fix) for f in examine(FakeProbe(facts)) if not f.ok]


def test_a_healthy_host_has_no_problem_and_says_what_it_checked():
    findings = examine(FakeProbe())
    assert [f.check for f in findings] == [
        "hub", "proxy", "engine", "images", "disk", "volumes", "firewall", "audit", "backup",
    ]  # fmt: skip
    assert all(f.ok for f in findings)
    text = "\n".join(f.line() for f in findings)
    assert "Docker 20.10.24 answers" in text and "chain head seq 4711 intact" in text
    assert "newest backup 20 h 0 min old" in text


@pytest.mark.parametrize(
    ("case_id", "facts", "check", "says", "fix"),
    [
        (
            "hub down",
            {"hub_health": ConnectionError("refused")},
            "hub",
            "could not check: refused",
            "systemctl status jupyter-hds-hub",
        ),
        (
            "hub unhealthy",
            {"hub_health": 503},
            "hub",
            "/hub/health answers 503",
            "journalctl -u jupyter-hds-hub",
        ),
        (
            "proxy",
            {"proxy_health": 502},
            "proxy",
            "answers 502",
            "systemctl status jupyter-hds-proxy",
        ),
        (
            "engine",
            {"engine": ConnectionError("no socket")},
            "engine",
            "could not check: no socket",
            "systemctl start docker",
        ),
        ("image", {"images": {"a:1": True, "b:2": False}}, "images", "missing: b:2", "make images"),
        (
            "disk below a tenth",
            {"disk": (9 * 1024**3, 100 * 1024**3)},
            "disk",
            "9.0 GiB free of 100.0 GiB",
            "hds usage volumes",
        ),
        (
            "disk below 2 GiB",
            {"disk": (1024**3, 5 * 1024**3)},
            "disk",
            "1.0 GiB free",
            "grow the disk",
        ),
        (
            "volume without server",
            {"volumes": Volumes({"/s/projects/alpha": "alpha"}, {})},
            "volumes",
            "the volume of alpha is mounted but none of its servers runs",
            "umount /s/projects/alpha",
        ),
        (
            "server without volume",
            {"volumes": Volumes({}, {"beta": ["jupyter-bob--beta"]})},
            "volumes",
            "jupyter-bob--beta of beta run without its volume mounted",
            "stop the servers of beta",
        ),
        (
            "interrupted backup",
            {"volumes": Volumes({}, {}, ["/s/.backup/volumes/alpha"])},
            "volumes",
            "mounted by an interrupted backup",
            "fsfreeze -u /s/.backup/volumes/alpha; umount",
        ),
        (
            "no chain",
            {"firewall": Firewall(False, False, {}, False)},
            "firewall",
            "HDS-INPUT chain is missing: containers may reach every host port",
            "iptables -N HDS-INPUT",
        ),
        (
            "no jump",
            {"firewall": Firewall(True, False, {}, True)},
            "firewall",
            "INPUT does not use HDS-INPUT",
            "iptables -I INPUT 1 -j HDS-INPUT",
        ),
        (
            "rules lost",
            {"firewall": Firewall(True, True, {"hdsa": 3, "hdsb": 0}, True)},
            "firewall",
            "hdsa (3 rule(s))",
            "start them again",
        ),
        (
            "hub port open",
            {"firewall": Firewall(True, True, {"hdsa": 0}, False)},
            "firewall",
            "the hub's API port is open to every interface",
            "restart jupyter-hds-hub",
        ),
        (
            "chain broken",
            {"audit": Audit(False, 10, ["seq 9: its hash does not match"], None)},
            "audit",
            "chain breaks: seq 9: its hash does not match",
            "hds audit verify",
        ),
        (
            "inbox stale",
            {"audit": Audit(True, 10, [], 3600.0)},
            "audit",
            "events wait in the inbox for 60 min",
            "restart jupyter-hds-hub",
        ),
        (
            "no backup",
            {"last_backup": None},
            "backup",
            "no complete backup",
            "jupyter-hds-backup.timer",
        ),
        (
            "old backup",
            {"last_backup": NOW - timedelta(days=3)},
            "backup",
            "newest backup 3 d 0 h old",
            "systemctl status jupyter-hds-backup.service",
        ),
        (
            "repository unreadable",
            {"last_backup": RuntimeError("no backup password at /etc/x")},
            "backup",
            "no backup password at /etc/x",
            "c.Backup.password_file",
        ),
    ],
)
def test_each_problem_is_named_with_its_fix(case_id, facts, check, says, fix):
    found = problems(**facts)
    assert len(found) == 1, found
    (where, message, advice) = found[0]
    assert where == check and says in message and fix in advice


def test_the_backup_age_limit_comes_from_the_thresholds():
    probe = FakeProbe({"last_backup": NOW - timedelta(hours=30)})
    assert all(f.ok for f in examine(probe, Thresholds(backup_max_age=timedelta(hours=48))))
    assert not all(f.ok for f in examine(probe, Thresholds(backup_max_age=timedelta(hours=26))))
