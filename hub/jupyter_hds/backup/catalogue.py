"""What a repository holds, as backups: snapshots grouped by backup, complete or not, and kept.

One backup is several restic snapshots (the state, the datasets, one per project volume),
each tagged `hds-backup=<id>` and `hds-part=<part>`. The state part is written last and
carries the size of the whole backup: a backup without it is incomplete (a run that failed
or was killed) and is never listed, restored or kept. Plain Python: restic's JSON in,
decisions out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

BACKUP_TAG, PART_TAG, SIZE_TAG = "hds-backup", "hds-part", "hds-size"
RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
STATE_PART, DATASETS_PART, VOLUME_PART = "state", "datasets", "volume-"


def volume_part(project: str) -> str:
    return f"{VOLUME_PART}{project}"


def new_backup_id(moment: datetime) -> str:
    """A backup's id: its start time, sortable, safe in a restic tag and a file name."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Snapshot:
    """One restic snapshot, with the tags this product gives it."""

    id: str
    time: datetime
    tags: dict[str, str]
    paths: tuple[str, ...] = ()

    @classmethod
    def from_restic(cls, data: dict[str, Any]) -> Snapshot:
        tags = dict(tag.partition("=")[::2] for tag in data.get("tags") or [])
        return cls(data["id"], parse_time(data["time"]), tags, tuple(data.get("paths") or ()))

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass
class BackupSet:
    """The snapshots of one backup."""

    id: str
    parts: dict[str, Snapshot] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return STATE_PART in self.parts

    @property
    def state(self) -> Snapshot:
        return self.parts[STATE_PART]

    @property
    def time(self) -> datetime:
        """When the backup finished (its state part), else when its first part was written."""
        if self.complete:
            return self.state.time
        return min(s.time for s in self.parts.values())

    @property
    def size(self) -> int | None:
        """Bytes read for this backup (all parts), as recorded in its state part."""
        text = self.state.tags.get(SIZE_TAG) if self.complete else None
        return int(text) if text and text.isdigit() else None

    @property
    def volumes(self) -> list[str]:
        return sorted(p[len(VOLUME_PART) :] for p in self.parts if p.startswith(VOLUME_PART))

    def snapshot_ids(self) -> list[str]:
        return sorted(s.id for s in self.parts.values())


def parse_time(text: str) -> datetime:
    """restic's snapshot time (RFC 3339, nanoseconds, any offset) as an aware UTC datetime."""
    match = RFC3339.match(text)
    if not match:
        raise ValueError(f"unreadable snapshot time {text!r}")
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(
        f"{whole}{(fraction or '')[:7]}{'+00:00' if zone == 'Z' else zone}"
    )
    return moment.astimezone(UTC)


def catalogue(snapshots: list[dict[str, Any]]) -> list[BackupSet]:
    """Every backup in the repository, oldest first (snapshots of other tools are left out)."""
    backups: dict[str, BackupSet] = {}
    for data in snapshots:
        snapshot = Snapshot.from_restic(data)
        backup_id, part = snapshot.tags.get(BACKUP_TAG), snapshot.tags.get(PART_TAG)
        if backup_id and part:
            backups.setdefault(backup_id, BackupSet(backup_id)).parts[part] = snapshot
    return sorted(backups.values(), key=lambda b: (b.time, b.id))


def complete(backups: list[BackupSet]) -> list[BackupSet]:
    return [b for b in backups if b.complete]


def find(backups: list[BackupSet], ref: str) -> BackupSet:
    """The complete backup named by `ref`: `latest`, a backup id, or a snapshot id (prefix)."""
    done = complete(backups)
    if not done:
        raise LookupError("the repository holds no complete backup yet: run `hds backup create`")
    if ref == "latest":
        return done[-1]
    found = [b for b in done if b.id == ref] or [
        b for b in done if any(s.id.startswith(ref) for s in b.parts.values())
    ]
    if len(ref) < 4 or len(found) != 1:
        what = "matches several backups" if len(found) > 1 else "names no complete backup"
        newest = ", ".join(f"{b.id} ({b.state.short_id})" for b in done[-3:])
        raise LookupError(f"{ref!r} {what}; name one as `hds backup list` shows it: {newest}")
    return found[0]


def incomplete(backups: list[BackupSet], running: str | None = None) -> list[BackupSet]:
    """Backups whose run did not finish (their snapshots are to be forgotten), but `running`."""
    return [b for b in backups if not b.complete and b.id != running]


def to_forget(
    backups: list[BackupSet], keep_last: int, keep_daily: int, keep_monthly: int
) -> list[BackupSet]:
    """Complete backups that the retention policy drops.

    Kept: the `keep_last` newest (at least one), the newest backup of each of the last
    `keep_daily` days that have one, and the newest of each of the last `keep_monthly`
    months that have one.
    """
    done = sorted(complete(backups), key=lambda b: b.time, reverse=True)
    kept = {b.id for b in done[: max(keep_last, 1)]}
    periods = [(lambda t: t.date(), keep_daily), (lambda t: (t.year, t.month), keep_monthly)]
    for period, count in periods:
        seen: list[Any] = []
        for backup in done:
            key = period(backup.time)
            if key not in seen and len(seen) < count:
                seen.append(key)
                kept.add(backup.id)
    return [b for b in reversed(done) if b.id not in kept]


def age(moment: datetime, now: datetime) -> str:
    """`3 h`, `2 d 4 h`, `25 min`: how long ago `moment` was."""
    minutes = max(int((now - moment).total_seconds() // 60), 0)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes % 60} min" if hours else f"{minutes} min"


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
