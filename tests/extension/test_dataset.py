"""Which paths count as the dataset, and what an event must carry."""

from __future__ import annotations

import pytest

from hds_data_guard.dataset import DatasetFolder
from hds_data_guard.events import audit_event, make_event


@pytest.fixture
def home(tmp_path):
    (tmp_path / "dataset" / "sub").mkdir(parents=True)
    (tmp_path / "dataset" / "sub" / "labs.parquet").write_bytes(b"PAR1")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "labs-link.parquet").symlink_to("../dataset/sub/labs.parquet")
    (tmp_path / "work" / "dataset-link").symlink_to("../dataset")
    (tmp_path / "dataset-copy").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("case_id", "api_path", "expected"),
    [
        ("the-folder", "dataset", True),
        ("leading-slash", "/dataset/sub/labs.parquet", True),
        ("nested-file", "dataset/sub/labs.parquet", True),
        ("missing-file-inside", "dataset/not-there.csv", True),
        ("link-to-a-file", "work/labs-link.parquet", True),
        ("through-a-folder-link", "work/dataset-link/sub/labs.parquet", True),
        ("dot-dot", "work/../dataset/sub/labs.parquet", True),
        ("work-file", "work/analysis.ipynb", False),
        ("same-prefix-other-folder", "dataset-copy/labs.parquet", False),
        ("root", "", False),
        ("none", None, False),
    ],
)
def test_dataset_contains(case_id, api_path, expected, home):
    assert DatasetFolder(str(home), "dataset").contains(api_path) is expected


@pytest.mark.parametrize(
    ("case_id", "api_path", "expected"),
    [
        ("a-dataset-file", "dataset/sub/labs.parquet", True),
        ("the-dataset", "dataset", True),
        ("the-home-folder", "", True),
        ("the-home-folder-slash", "/", True),
        ("the-home-folder-dot-dot", "work/..", True),
        ("a-folder-holding-a-link-into-it", "work", True),
        ("a-link-to-the-home-folder", "loop/home-link", True),
        ("a-plain-folder", "dataset-copy", False),
        ("a-work-file", "work/analysis.ipynb", False),
        ("none", None, False),
    ],
)
def test_copies_dataset(case_id, api_path, expected, home):
    (home / "loop").mkdir()
    (home / "loop" / "home-link").symlink_to("..")
    (home / "work" / "analysis.ipynb").write_text("{}")
    assert DatasetFolder(str(home), "dataset").copies_dataset(api_path) is expected


def test_event_has_the_contract_fields():
    event = make_event("dataset.read", actor="alice", outcome="allowed", project="cohort-2024",
                       target="dataset/patients.csv", source="10.0.0.7", route="/api/contents",
                       method="GET", reason="dataset file opened", format="text")  # fmt: skip
    assert set(event) == {"id", "time", "action", "actor", "project", "target", "outcome",
                          "source", "details"}  # fmt: skip
    assert len(event["id"]) == 32 and int(event["id"], 16) >= 0
    assert event["time"].endswith("+00:00")
    assert event["details"] == {"route": "/api/contents", "method": "GET",
                                "reason": "dataset file opened", "format": "text"}  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "fields", "message"),
    [
        ("unknown-action", {"action": "download.allowed"}, "unknown data-guard action"),
        ("bad-outcome", {"outcome": "maybe"}, "is not one of allowed, refused"),
        ("no-actor", {"actor": ""}, "needs the user name"),
    ],
)
def test_bad_events_are_refused_with_the_reason(case_id, fields, message):
    base = {"action": "download.blocked", "actor": "alice", "outcome": "refused"}
    args = {**base, **fields}
    with pytest.raises(ValueError, match=message):
        make_event(args.pop("action"), project=None, target=None, source=None, route="/files",
                   method="GET", reason="r", **args)  # fmt: skip


def test_other_extensions_record_their_own_dotted_actions():
    event = audit_event("document.joined", actor="carol", outcome="allowed", project="alpha",
                        target="work/a.ipynb", source=None, owner="alice")  # fmt: skip
    assert (event["action"], event["details"]) == ("document.joined", {"owner": "alice"})
    with pytest.raises(ValueError, match="must be dotted lowercase"):
        audit_event("Document Joined", actor="carol", outcome="allowed", project="alpha",
                    target=None, source=None)  # fmt: skip
    with pytest.raises(ValueError, match="needs the user name"):
        audit_event("document.joined", actor="", outcome="allowed", project="alpha",
                    target=None, source=None)  # fmt: skip
