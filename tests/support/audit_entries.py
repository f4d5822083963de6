"""Events and record lines for the audit unit tests, as the hub and the writer make them."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_hds.audit.intake import new_event


def events(
    count: int,
    action: str = "dataset.read",
    actor: str = "alice",
    outcome: str = "allowed",
    **fields,
) -> list[dict]:
    """`count` distinct events (details.n = 0, 1, ...), as the hub would put them in the inbox."""
    fields = {"project": "cohort-a", "target": "alice/cohort-a", **fields}
    return [
        new_event(action, actor, "user", outcome, **fields, details={"n": n}) for n in range(count)
    ]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_lines(path: Path, entries: list[dict]) -> None:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))
