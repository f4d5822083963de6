"""Which paths count as the dataset, symbolic links followed."""

from __future__ import annotations

import pytest

from hds_data_guard.dataset import DatasetFolder


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
