"""One catalogue of actions: every emitter uses its names, and docs/audit.md lists exactly it."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from hds_records import actions
from hds_records.actions import ACTIONS, CATALOGUE, UnknownAction, check, markdown_table
from hds_records.events import Event

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "hub" / "jupyter_hds", ROOT / "quota" / "hds_quota",
           *(ROOT / "extensions").glob("*/hds_*")]  # fmt: skip
RECORDS = ROOT / "extensions" / "records" / "hds_records"
DOTTED = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")
FILE_SUFFIXES = (".html", ".css", ".csv", ".json", ".jsonl", ".py", ".txt")
# Calls whose first string argument is an action: the constructors and the emitters over them.
EMITTERS = {"emit", "_emit", "Event", "new_event", "record", "refuse", "record_plain", "_failed"}


def product_files():
    for root in PRODUCT:
        for path in root.rglob("*.py"):
            if "build" not in path.relative_to(root).parts and not path.is_relative_to(RECORDS):
                yield path


def literals_in_product():
    """(text, where) of every dotted literal that names an action family of the catalogue."""
    heads = {name.split(".")[0] for name in ACTIONS}
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and DOTTED.match(node.value)
                and node.value.split(".")[0] in heads
                and not node.value.endswith(FILE_SUFFIXES)
            ):
                yield node.value, f"{path.relative_to(ROOT)}:{node.lineno}"


def emitted_in_product():
    """(action, where) of the first string argument of every call to an emitter."""
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0] if node.args else None
            if name in EMITTERS and isinstance(first, ast.Constant | ast.IfExp):
                for leaf in ast.walk(first):
                    # Names only: a helper called `refuse` may take a message instead.
                    if isinstance(leaf, ast.Constant) and NAME.match(str(leaf.value)):
                        yield leaf.value, f"{path.relative_to(ROOT)}:{node.lineno}"


def test_every_action_named_in_the_product_code_is_catalogued():
    found = list(literals_in_product())
    assert len(found) > 60, "the scan finds the emitters' names"
    unknown = [f"{text} ({where})" for text, where in found if text not in ACTIONS]
    assert not unknown, "not in hds_records.actions:\n" + "\n".join(unknown)


def test_every_emitter_call_names_a_catalogued_action():
    found = list(emitted_in_product())
    assert {"login", "logout", "download.blocked", "audit.view"} <= {t for t, _ in found}
    unknown = [f"{text} ({where})" for text, where in found if text not in ACTIONS]
    assert not unknown, "not in hds_records.actions:\n" + "\n".join(unknown)


def test_docs_audit_lists_exactly_the_catalogue():
    text = (ROOT / "docs" / "audit.md").read_text()
    lines = text.split("\n### Actions\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    assert "\n".join(table) == markdown_table(), (
        "docs/audit.md's table of actions differs from the catalogue; paste the output of "
        "`python -m hds_records.actions` under '### Actions'"
    )


def test_the_catalogue_covers_the_actions_other_parts_are_building():
    expected = {"dataset.import", "dataset.import.refused"} | {
        f"airlock.{step}"
        for step in (
            "requested",
            "checked",
            "approved",
            "rejected",
            "changes-requested",
            "released",
            "downloaded",
        )  # fmt: skip
    }
    assert expected <= set(ACTIONS)


def test_an_unknown_action_or_outcome_is_refused_saying_where_to_add_it():
    with pytest.raises(UnknownAction, match="add it there"):
        check("download.allowed", "allowed")
    with pytest.raises(UnknownAction, match="has outcome allowed, not 'refused'"):
        check("dataset.read", "refused")
    with pytest.raises(ValueError, match="not in the catalogue"):
        Event("quota.refused", actor="alice", outcome="refused")


def test_servers_report_only_their_own_actions():
    from_servers = {a.name for a in CATALOGUE if a.reporter == actions.SERVER}
    assert from_servers == {
        "download.blocked", "export.blocked", "dataset.read", "dataset.read.blocked",
        "dataset.copy.blocked", "dataset.move.blocked", "guard.spool.failed",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "fields", "message"),
    [
        ("bad-name", {"name": "Download Blocked"}, "dotted lowercase"),
        ("bad-outcome", {"outcomes": ("maybe",)}, "outcomes are among"),
        ("no-outcome", {"outcomes": ()}, "outcomes are among"),
        ("bad-reporter", {"reporter": "somebody"}, "reporter is one of"),
    ],
)
def test_a_malformed_catalogue_entry_is_refused(case_id, fields, message):
    entry = {"name": "x.y", "outcomes": ("failed",), "reporter": actions.HUB, "meaning": "m"}
    with pytest.raises(ValueError, match=message):
        actions.Action(**{**entry, **fields})


def test_hds_records_needs_nothing_but_the_standard_library():
    for path in RECORDS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("__future__", "hds_records"), (
                    f"{path.name} imports {name}: users' servers and the hub both import "
                    "hds_records, keep it to the standard library"
                )
