"""Plans: the limits and price a project rents, as operator configuration."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from traitlets import Dict, Integer, validate
from traitlets.config import LoggingConfigurable

UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
# A project's storage is a filesystem of that size: smaller than this, ext4 has no room to work.
MIN_STORAGE = 32 * 1024**2
# Servers report activity every 300 s and the hub polls the proxy every 300 s: an idle
# timeout at or below this would stop servers that are in use.
ACTIVITY_REPORTING = 330
# Limits a plan may leave out, and their value then (existing plan configs keep working).
# browser_bytes_day: what a person's servers of one project send to their browser in a day
# (file contents and kernel outputs), enforced by the data guard (docs/data-guard.md).
OPTIONAL_LIMITS: dict[str, int | str] = {"browser_bytes_day": "512M"}


def parse_bytes(value: int | str) -> int:
    """`4G`, `512M`, `20G` or a number of bytes, to bytes (binary units, as Docker reads them)."""
    if isinstance(value, int):
        return value
    text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    if text.isdigit():
        return int(text)
    raise ValueError(f"{value!r} is not a size; write it like 4G, 512M or 20G")


@dataclass(frozen=True)
class Plan:
    """What one project on this plan may use, and what it costs per month."""

    name: str
    price_eur_month: float
    members: int
    running_servers: int
    cpu: float
    memory: int
    storage: int
    cpu_hours_month: float
    idle_timeout: int
    browser_bytes_day: int = parse_bytes(OPTIONAL_LIMITS["browser_bytes_day"])

    @classmethod
    def from_config(
        cls, name: str, values: dict[str, Any], idle_floor: int = ACTIVITY_REPORTING
    ) -> Plan:
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = set(values) - known
        missing = known - set(values) - set(OPTIONAL_LIMITS)
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"unknown limits {', '.join(sorted(unknown))}")
            if missing:
                problems.append(f"missing limits {', '.join(sorted(missing))}")
            raise ValueError(
                f"plan {name!r}: {'; '.join(problems)}; "
                f"a plan sets {', '.join(sorted(known - set(OPTIONAL_LIMITS)))}, and may "
                f"set {', '.join(sorted(OPTIONAL_LIMITS))}"
            )
        plan = cls(
            name=name,
            price_eur_month=float(values["price_eur_month"]),
            members=int(values["members"]),
            running_servers=int(values["running_servers"]),
            cpu=float(values["cpu"]),
            memory=parse_bytes(values["memory"]),
            storage=parse_bytes(values["storage"]),
            cpu_hours_month=float(values["cpu_hours_month"]),
            idle_timeout=int(values["idle_timeout"]),
            browser_bytes_day=parse_bytes(
                values.get("browser_bytes_day", OPTIONAL_LIMITS["browser_bytes_day"])
            ),
        )
        plan.check(idle_floor)
        return plan

    def check(self, idle_floor: int) -> None:
        """Raise ValueError naming the first limit that cannot work, and what to write."""
        positive = ("members", "running_servers", "cpu", "memory", "cpu_hours_month")
        for limit in positive:
            if getattr(self, limit) <= 0:
                raise ValueError(f"plan {self.name!r}: {limit} must be positive")
        if self.browser_bytes_day < 0:
            raise ValueError(
                f"plan {self.name!r}: browser_bytes_day cannot be negative; write a size like "
                "512M, or 0 for no daily limit"
            )
        if self.price_eur_month < 0:
            raise ValueError(f"plan {self.name!r}: price_eur_month cannot be negative")
        if self.storage < MIN_STORAGE:
            raise ValueError(
                f"plan {self.name!r}: storage must be at least 32M (a filesystem smaller "
                "than that has no room for its own bookkeeping)"
            )
        if self.idle_timeout <= idle_floor:
            raise ValueError(
                f"plan {self.name!r}: idle_timeout must exceed {idle_floor} s, or servers "
                "in use would be stopped (they report activity every 300 s); write 3600 for 1 h"
            )


DEFAULT_PLANS = {
    "public": {
        "price_eur_month": 150,
        "members": 10,
        "running_servers": 5,
        "cpu": 2,
        "memory": "4G",
        "storage": "20G",
        "cpu_hours_month": 200,
        "idle_timeout": 3600,
    },
    "private": {
        "price_eur_month": 300,
        "members": 25,
        "running_servers": 15,
        "cpu": 4,
        "memory": "16G",
        "storage": "100G",
        "cpu_hours_month": 1000,
        "idle_timeout": 4 * 3600,
    },
}


class Plans(LoggingConfigurable):
    """The plans projects can be on (a project names its plan in its `plan` property)."""

    plans = Dict(
        default_value=DEFAULT_PLANS,
        help="""Plans by name: each sets price_eur_month, members (per project),
        running_servers (at once, per project), cpu and memory (per server, memory like "4G"),
        storage (per project, shared folder and members' spaces, like "20G"),
        cpu_hours_month (compute per project per month) and idle_timeout (seconds before an
        idle server is stopped). A plan may also set browser_bytes_day: how much a person's
        servers of one project may send to their browser in a day (file contents and kernel
        outputs, like "512M"; 0: no limit); left out, it is 512M.

        Add a plan or change one without restating the others:
            c.Plans.plans.update({"gold": {...every limit...}})

        A project's plan is read at every server start: changing the `plan` property of a
        project (admin panel or `hds project set`) applies from its members' next start.
        """,
    ).tag(config=True)

    idle_timeout_floor = Integer(
        ACTIVITY_REPORTING,
        help="""Shortest idle_timeout a plan may set, in seconds. Servers report activity to
        the hub every 300 s (JUPYTERHUB_ACTIVITY_INTERVAL) and the hub polls the proxy every
        300 s (c.JupyterHub.last_activity_interval): a shorter timeout would stop servers in
        use. Lower it only together with both intervals.""",
    ).tag(config=True)

    @validate("plans", "idle_timeout_floor")
    def _validate_plans(self, proposal):
        # Config is loaded with notifications held, so both traits are set when this runs.
        plans = proposal.value if proposal.trait.name == "plans" else self.plans
        floor = proposal.value if proposal.trait.name == "idle_timeout_floor" else None
        if not plans:
            raise ValueError("c.Plans.plans is empty; define at least one plan")
        for name, limits in plans.items():
            Plan.from_config(name, limits, self.idle_timeout_floor if floor is None else floor)
        return proposal.value

    def get(self, name: str) -> Plan:
        """The plan called `name`, or a ValueError that lists the defined plans."""
        if name not in self.plans:
            raise ValueError(
                f"plan {name!r} is not defined; defined plans: {', '.join(sorted(self.plans))}"
            )
        return Plan.from_config(name, self.plans[name], self.idle_timeout_floor)

    def all(self) -> list[Plan]:
        """Every defined plan, by name."""
        return [self.get(name) for name in sorted(self.plans)]
