"""One entry of the audit record: its fields, how it is hashed, how raw events are normalised."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# Order matters: it is the order of the hashed message (and of the Parquet columns).
FIELDS = (
    "seq",
    "id",
    "time",
    "recorded",
    "actor",
    "actor_kind",
    "action",
    "project",
    "target",
    "outcome",
    "source",
    "reported_by",
    "details",
    "prev",
    "hash",
)
HASHED = FIELDS[:-1]
# Fields an event carries before the writer chains it.
EVENT_FIELDS = FIELDS[1:-2]
ACTOR_KINDS = ("user", "admin", "service", "anonymous")
GENESIS = "0" * 64
MESSAGE_VERSION = "hds-audit-v1"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _encode(value: Any) -> str:
    """Length-prefixed text of one field, so no value can be shifted into its neighbour."""
    if value is None:
        return "~"
    text = str(value)
    return f"{len(text.encode())}:{text}"


def message(entry: dict[str, Any]) -> str:
    """The exact text whose SHA-256 is an entry's `hash` (its `prev` included)."""
    return MESSAGE_VERSION + "".join("|" + _encode(entry[name]) for name in HASHED)


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(message(entry).encode()).hexdigest()


def sql_message() -> str:
    """The same message as `message()`, as a DuckDB expression over a row's columns."""
    parts = []
    for name in HASHED:
        text = f'CAST("{name}" AS VARCHAR)'
        parts.append(f"'|' || coalesce(CAST(strlen({text}) AS VARCHAR) || ':' || {text}, '~')")
    return f"'{MESSAGE_VERSION}' || " + " || ".join(parts)


def message_array(table: pa.Table) -> pa.ChunkedArray:
    """The same message as `message()` for every row of an Arrow table with the record's columns.

    Vectorised, one join a batch: each field is its `|<bytes>:` label (one text when all values
    have the same length, else looked up by length; `|~` when null) and its text. A dictionary
    column is labelled once per distinct value, then taken.
    """
    batches = table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]
    return pa.chunked_array([_batch_messages(batch) for batch in batches], pa.string())


def _batch_messages(batch: pa.RecordBatch) -> pa.Array:
    parts: list[Any] = [MESSAGE_VERSION]
    for name in HASHED:
        parts += _encoded(batch.column(name))
    return pc.binary_join_element_wise(*parts, "", null_handling="skip")


def _encoded(column: pa.Array) -> list[Any]:
    """Parts that make up `_encode(value)` for each value: joined, with null parts skipped."""
    if pa.types.is_dictionary(column.type):
        values = pc.binary_join_element_wise(*_encoded(column.dictionary), "", null_handling="skip")
        values = pa.concat_arrays([values.cast(pa.string()), pa.array(["|~"])])
        return [values.take(pc.fill_null(column.indices.cast(pa.int64()), len(column.dictionary)))]
    text = pc.cast(column, pa.string())
    size = pc.binary_length(text)
    bounds = pc.min_max(size).as_py()
    longest = bounds["max"] or 0
    if not column.null_count and bounds["min"] == longest:
        return [f"|{longest}:", text]
    labels = [f"|{length}:" for length in range(longest + 1)] + ["|~"]
    return [pa.array(labels).take(pc.fill_null(size, longest + 1)), text]


def canonical_details(details: Any) -> str:
    """Details as the JSON text that is stored and hashed: sorted keys, no spaces."""
    return json.dumps(
        details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def now() -> str:
    return format_time(datetime.now(UTC))


def normalize_time(value: str, assume_utc: bool = False) -> str:
    """An ISO 8601 time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), which sorts as text.

    A time without an offset is refused unless `assume_utc` (the hub's own clock).
    """
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(
            f"time {value!r} is not ISO 8601; write e.g. 2025-01-31T09:30:00Z"
        ) from None
    if moment.tzinfo is None:
        if not assume_utc:
            raise ValueError(f"time {value!r} has no UTC offset; end it with Z or +00:00")
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


# Actors that are systems, not people: hub services and identity providers.
SYSTEM_ACTORS = ("service:", "provider:")


def actor_kind(actor: str, is_admin: bool = False) -> str:
    """`anonymous`, `service` (`service:<name>`, `provider:<issuer>`), `admin` or `user`."""
    if actor == "anonymous":
        return "anonymous"
    if actor.startswith(SYSTEM_ACTORS):
        return "service"
    return "admin" if is_admin else "user"


def chain(
    event: dict[str, Any], seq: int, prev: str, recorded: str | None = None
) -> dict[str, Any]:
    """The record entry for `event`: numbered, stamped, linked to `prev` and hashed."""
    entry = {name: event.get(name) for name in EVENT_FIELDS}
    entry.update(seq=seq, recorded=recorded or now(), prev=prev)
    if not isinstance(entry["details"], str):
        entry["details"] = canonical_details(entry["details"])
    entry = {name: entry.get(name) for name in HASHED}
    entry["hash"] = entry_hash(entry)
    return entry


def to_line(entry: dict[str, Any]) -> bytes:
    """One JSON line of a record segment, fields in record order."""
    return (json.dumps({k: entry[k] for k in FIELDS}, ensure_ascii=False) + "\n").encode()
