"""`hds dataset import|list|show`, and the audit events an import leaves in the inbox."""

from __future__ import annotations

import argparse
import hashlib
import json

import pytest

from jupyter_hds.audit.inbox import Inbox
from jupyter_hds.datasets import cli
from jupyter_hds.datasets.errors import ImportRefused

SPEC = """
[checks]
k = 5
quasi_identifiers = ["people.age"]

[tables.people.columns]
id = "pseudonym"
name = "drop"
age = { rule = "generalise", to = "band", width = 10 }
"""


@pytest.fixture
def hds(tmp_path, monkeypatch):
    """Run `hds dataset ...` on a state folder in tmp_path, with projects alpha and beta."""
    monkeypatch.setenv("HDS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SUDO_USER", "ann")
    monkeypatch.setattr(cli, "project_exists", lambda name: name in ("alpha", "beta"))
    (tmp_path / "spec.toml").write_text(SPEC)
    (tmp_path / "people.csv").write_text(
        "id,name,age\n" + "".join(f"{i},N{i},{20 + i % 20}\n" for i in range(100))
    )

    def hds(*argv: str) -> int:
        parser = argparse.ArgumentParser(prog="hds")
        cli.add_commands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["dataset", *argv])
        return args.func(args)

    return hds


def events(tmp_path) -> list[dict]:
    inbox = Inbox(tmp_path / "state" / "audit")
    found = []
    for path in inbox.claim():
        found.extend(inbox.read(path).events)
    return found


def test_import_list_show_and_the_audit_event(hds, tmp_path, capsys):
    assert (
        hds(
            "import",
            "cohort",
            "--project",
            "alpha",
            "--spec",
            str(tmp_path / "spec.toml"),
            str(tmp_path / "people.csv"),
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("imported cohort@1 for alpha: people 100 rows\n")
    manifest_path = tmp_path / "state" / "datasets" / "cohort" / "1" / "manifest.json"
    digest = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    assert f"manifest sha256 {digest}" in out
    (event,) = events(tmp_path)
    assert (event["action"], event["outcome"], event["actor"], event["actor_kind"]) == (
        "dataset.import",
        "succeeded",
        "ann",
        "admin",
    )
    assert (event["project"], event["target"]) == ("alpha", "cohort@1")
    details = event["details"]
    assert details["manifest_sha256"] == digest and details["rows"] == {"people": 100}
    assert (
        details["key_id"] == json.loads(manifest_path.read_text())["key_id"]
        and details["forced"] is False
    )

    assert hds("list") == 0
    assert capsys.readouterr().out.split("\t")[:3] == ["cohort@1", "alpha", "100 rows"]
    assert hds("show", "cohort@1") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["path"] == str(manifest_path.parent) and shown["version"] == 1
    with pytest.raises(FileNotFoundError, match="dataset cohort has no version 2; it has 1"):
        hds("show", "cohort@2")


def test_a_refused_import_is_an_audit_event_too(hds, tmp_path):
    with pytest.raises(ImportRefused, match="there is no project 'gamma'"):
        hds(
            "import",
            "cohort",
            "--project",
            "gamma",
            "--spec",
            str(tmp_path / "spec.toml"),
            str(tmp_path / "people.csv"),
        )
    (event,) = events(tmp_path)
    assert (event["action"], event["outcome"], event["project"], event["target"]) == (
        "dataset.import.refused",
        "refused",
        "gamma",
        "cohort",
    )
    assert event["details"]["reason"] == "there is no project 'gamma'; create it first"
    assert event["details"]["inputs"] == ["people.csv"]


def test_forced_below_k_says_so(hds, tmp_path, capsys):
    spec = tmp_path / "strict.toml"
    spec.write_text(SPEC.replace("k = 5", "k = 60"))
    args = [
        "import",
        "cohort",
        "--project",
        "alpha",
        "--spec",
        str(spec),
        str(tmp_path / "people.csv"),
    ]
    with pytest.raises(ImportRefused, match="smaller than k = 60"):
        hds(*args)
    assert hds(*args, "--force") == 0
    assert "(FORCED below k)" in capsys.readouterr().out
    refused, imported = events(tmp_path)
    assert refused["action"] == "dataset.import.refused" and imported["details"]["forced"] is True
