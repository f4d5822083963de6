"""Which collaboration rooms may open: notebooks and text, dataset files as the data guard says."""

from __future__ import annotations

import json
import logging

import pytest

from hds_collaboration.rooms import decide, room_file

ONLY_TEXT = "co-editing opens notebooks and text files only, not {!r} content"


@pytest.mark.parametrize(
    "case_id, file_format, in_dataset, dataset_content, allowed, action, reason",
    [
        ("notebook", "json", False, "text", True, None, ""),
        ("text-file", "text", False, "text", True, None, ""),
        ("raw-bytes", "base64", False, "text", False, None, ONLY_TEXT.format("base64")),
        ("dataset-text", "text", True, "text", True, "dataset.read",
         "dataset file opened for co-editing"),
        ("dataset-raw-bytes", "base64", True, "text", False, "dataset.read.blocked",
         ONLY_TEXT.format("base64")),
        ("dataset-hidden", "text", True, "none", False, "dataset.read.blocked",
         "dataset files are not shown"),
        ("dataset-notebook-hidden", "json", True, "none", False, "dataset.read.blocked",
         "dataset files are not shown"),
        ("unknown-format", "hex", False, "text", False, None, ONLY_TEXT.format("hex")),
    ],
)  # fmt: skip
def test_room_decision(case_id, file_format, in_dataset, dataset_content, allowed, action, reason):
    decision = decide(file_format, in_dataset, dataset_content)
    assert (decision.allowed, decision.action, decision.reason) == (allowed, action, reason)


class FileIds:
    def get_path(self, file_id):
        return {"4f2a": "work/analysis.ipynb"}.get(file_id)


@pytest.mark.parametrize(
    "case_id, room, expected",
    [
        ("notebook", "json:notebook:4f2a", ("json", "work/analysis.ipynb")),
        ("unknown-file-id", "text:file:9999", ("text", None)),
        ("awareness", "JupyterLab:globalAwareness", None),
        ("no-colon", "transient", None),
    ],
)
def test_room_file(case_id, room, expected):
    assert room_file({"file_id_manager": FileIds()}, room) == expected


def test_collaboration_events_have_the_contract_shape():
    from hds_collaboration.app import CollaborationGuardApp

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("hds_data_guard.events")
    handler = Collect()
    logger.addHandler(handler)
    try:
        app = CollaborationGuardApp(owner="alice", project="alpha")
        app.record("collaboration.guest.cut_off", "carol", "refused", None, reason="revoked")
        app.record("document.joined", "carol", "allowed", None, target="work/a.ipynb")
    finally:
        logger.removeHandler(handler)
    cut, joined = (json.loads(line) for line in lines)
    assert set(cut) == {"id", "time", "action", "actor", "project", "target", "outcome",
                        "source", "details"}  # fmt: skip
    assert (cut["action"], cut["actor"], cut["project"], cut["target"], cut["outcome"]) == (
        "collaboration.guest.cut_off", "carol", "alpha", "alice/alpha", "refused"
    )  # fmt: skip
    assert cut["details"] == {"owner": "alice", "reason": "revoked"}
    assert cut["source"] is None and len(cut["id"]) == 32
    assert (joined["action"], joined["target"]) == ("document.joined", "work/a.ipynb")
