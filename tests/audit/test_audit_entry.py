"""The hashed message is the same whether Python or DuckDB computes it; times are normalised."""

from __future__ import annotations

import duckdb
import pytest

from jupyter_hds.audit.entry import (
    FIELDS,
    GENESIS,
    actor_kind,
    chain,
    entry_hash,
    message,
    normalize_time,
    sql_message,
)


def raw(**fields):
    event = {"id": "a" * 32, "time": "t", "actor": "alice", "actor_kind": "user", "action": "x",
             "outcome": "allowed", "reported_by": "hub"}  # fmt: skip
    return event | fields


ODD_VALUES = [
    ("plain", "alice"),
    ("empty", ""),
    ("none", None),
    ("unicode", "Zoé Ærø 数据"),
    ("separators", "a|3:b~|"),
    ("quotes-newlines", 'it\'s "quoted"\nand\ttabbed'),
    ("emoji", "🩺"),
]


@pytest.mark.parametrize(("case_id", "value"), ODD_VALUES, ids=[c for c, _ in ODD_VALUES])
def test_python_and_duckdb_hash_the_same_message(case_id, value):
    entry = chain(raw(actor=value, target=value, details={"v": value}), 7, GENESIS)
    con = duckdb.connect()
    columns = ", ".join(f'? AS "{name}"' for name in FIELDS)
    sql = f"SELECT {sql_message()}, sha256({sql_message()}) FROM (SELECT {columns})"  # noqa: S608
    text, digest = con.execute(sql, [entry[name] for name in FIELDS]).fetchone()
    assert text == message(entry)
    assert digest == entry["hash"] == entry_hash(entry)


def test_shifting_text_between_fields_changes_the_hash():
    base = chain(raw(actor="ab", target="c"), 1, GENESIS)
    shifted = dict(base, actor="a", target="bc")
    assert entry_hash(shifted) != base["hash"]


@pytest.mark.parametrize(
    ("case_id", "value", "expected"),
    [
        ("z-suffix", "2025-03-01T10:00:00Z", "2025-03-01T10:00:00.000000Z"),
        ("offset", "2025-03-01T12:00:00+02:00", "2025-03-01T10:00:00.000000Z"),
        ("micro", "2025-03-01T10:00:00.123456+00:00", "2025-03-01T10:00:00.123456Z"),
    ],
)
def test_times_become_utc_text_that_sorts(case_id, value, expected):
    assert normalize_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2025-03-01T10:00:00", "", "2025-13-01T00:00:00Z"])
def test_times_without_offset_or_unreadable_are_refused(value):
    with pytest.raises(ValueError, match="time"):
        normalize_time(value)


def test_the_hub_clock_may_omit_the_offset():
    assert normalize_time("2025-03-01T10:00:00", assume_utc=True) == "2025-03-01T10:00:00.000000Z"


@pytest.mark.parametrize(
    ("actor", "admin", "kind"),
    [
        ("anonymous", False, "anonymous"),
        ("service:culler", False, "service"),
        ("provider:https://idp.example/realms/hds", False, "service"),
        ("alice", False, "user"),
        ("root", True, "admin"),
    ],  # fmt: skip
)
def test_actor_kinds(actor, admin, kind):
    assert actor_kind(actor, admin) == kind
