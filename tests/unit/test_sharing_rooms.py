"""Which collaboration rooms may open: notebooks and text, dataset files as the data guard says."""

from __future__ import annotations

import pytest

from hds_collaboration.rooms import decide


@pytest.mark.parametrize(
    "case_id, file_format, in_dataset, dataset_content, allowed, action",
    [
        ("notebook", "json", False, "text", True, None),
        ("text-file", "text", False, "text", True, None),
        ("raw-bytes", "base64", False, "text", False, None),
        ("dataset-text", "text", True, "text", True, "dataset.read"),
        ("dataset-raw-bytes", "base64", True, "text", False, "dataset.read.blocked"),
        ("dataset-hidden", "text", True, "none", False, "dataset.read.blocked"),
        ("dataset-notebook-hidden", "json", True, "none", False, "dataset.read.blocked"),
        ("unknown-format", "hex", False, "text", False, None),
    ],
)
def test_room_decision(case_id, file_format, in_dataset, dataset_content, allowed, action):
    decision = decide(file_format, in_dataset, dataset_content)
    assert (decision.allowed, decision.action) == (allowed, action)
    assert decision.reason or allowed
