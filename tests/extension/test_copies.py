"""A file whose bytes are a dataset file's is the dataset (issue 19 item 11 a).

The attack: `cp ~/dataset/stays.parquet ~/work/copy.parquet` from a terminal, then
`GET /api/contents/work/copy.parquet?format=base64&content=1`. Before this control the
guard looked at paths only, so the copy went out whole (200) and nothing was recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil

import pytest

from hds_data_guard.copies import DatasetCopies, ReadContent
from hds_data_guard.dataset import DatasetFolder

PARQUET = "dataset/patients.parquet"
CSV = "dataset/patients.csv"


def read(response) -> dict:
    return json.loads(response.body)


@pytest.mark.parametrize(
    ("case_id", "copy", "query"),
    [
        ("base64", "work/copy.parquet", {"format": "base64", "content": "1"}),
        ("no-format", "work/copy.parquet", {}),
        ("type-file-base64", "work/copy.parquet", {"type": "file", "format": "base64"}),
        ("renamed-in-a-subfolder", "work/sub/notes.txt", {"format": "base64"}),
        ("in-the-shared-folder", "shared/x.bin", {"format": "base64"}),
    ],
)
async def test_a_copy_of_a_dataset_file_is_refused_like_the_file(
    case_id, copy, query, jp_fetch, guard, hub_endpoint, jp_root_dir
):
    (jp_root_dir / copy).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(jp_root_dir / PARQUET, jp_root_dir / copy)  # what `cp` in a terminal does

    response = await jp_fetch("api", "contents", copy, params=query, raise_error=False)

    assert response.code == 403
    message = read(response)["message"]
    assert f"same content as the dataset file {PARQUET}" in message
    assert "cannot be opened as raw bytes" in message
    [event] = hub_endpoint.events
    assert (event["action"], event["target"], event["outcome"]) == (
        "dataset.read.blocked", copy, "refused",
    )  # fmt: skip
    assert event["details"]["copy_of"] == PARQUET
    assert event["actor"] == "alice"


async def test_a_copy_made_by_copying_a_copy_is_still_the_dataset(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    shutil.copyfile(jp_root_dir / PARQUET, jp_root_dir / "work" / "a.parquet")
    # Jupyter's own copy of a work file is allowed: the result is still the dataset's bytes.
    copied = await jp_fetch("api", "contents", "work", method="POST",
                            body=json.dumps({"copy_from": "work/a.parquet"}))  # fmt: skip
    path = read(copied)["path"]
    response = await jp_fetch("api", "contents", path, params={"format": "base64"},
                              raise_error=False)  # fmt: skip
    assert response.code == 403
    assert hub_endpoint.events[-1]["details"]["copy_of"] == PARQUET


async def test_a_copy_altered_by_one_byte_is_not_the_dataset_any_more(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    altered = bytearray((jp_root_dir / PARQUET).read_bytes())
    altered[-1] ^= 1
    (jp_root_dir / "work" / "altered.parquet").write_bytes(bytes(altered))
    response = await jp_fetch("api", "contents", "work", "altered.parquet",
                              params={"format": "base64"})  # fmt: skip
    assert response.code == 200
    assert hub_endpoint.events == []  # small: below the recorded size (see test_budget.py)


async def test_a_text_copy_opens_as_the_dataset_file_does_and_is_recorded_as_it(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    shutil.copyfile(jp_root_dir / CSV, jp_root_dir / "work" / "p.csv")
    response = await jp_fetch("api", "contents", "work", "p.csv", params={"format": "text"})
    assert "pseudo_id" in read(response)["content"]
    [event] = hub_endpoint.events
    assert (event["action"], event["target"], event["outcome"]) == (
        "dataset.read", "work/p.csv", "allowed",
    )  # fmt: skip
    content = (jp_root_dir / CSV).read_bytes()
    assert event["details"]["copy_of"] == CSV
    assert event["details"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert event["details"]["size"] == len(content)


async def test_with_dataset_content_none_a_text_copy_is_refused_too(
    jp_fetch, guard, hub_endpoint, jp_root_dir
):
    guard.dataset_content = "none"
    shutil.copyfile(jp_root_dir / CSV, jp_root_dir / "work" / "p.csv")
    response = await jp_fetch("api", "contents", "work", "p.csv", params={"format": "text"},
                              raise_error=False)  # fmt: skip
    assert response.code == 403
    assert hub_endpoint.actions() == [("dataset.read.blocked", "work/p.csv", "refused")]


async def test_a_work_file_like_no_dataset_file_is_served(jp_fetch, guard, hub_endpoint):
    response = await jp_fetch("api", "contents", "work", "plot.png", params={"format": "base64"})
    assert read(response)["format"] == "base64"
    assert hub_endpoint.events == []


# --- DatasetCopies on its own -----------------------------------------------------------


@pytest.fixture
def home(tmp_path):
    (tmp_path / "dataset" / "sub").mkdir(parents=True)
    (tmp_path / "dataset" / "sub" / "labs.parquet").write_bytes(b"PAR1 labs")
    (tmp_path / "dataset" / "stays.parquet").write_bytes(b"PAR1 stay")  # same size as labs
    (tmp_path / "dataset" / "empty.csv").write_bytes(b"")
    (tmp_path / "work").mkdir()
    return tmp_path


def content(data: bytes, kind: str = "base64") -> ReadContent:
    encoded = base64.encodebytes(data).decode() if kind == "base64" else data.decode()
    return ReadContent({"type": "file", "format": kind, "content": encoded}, "/nowhere")


@pytest.mark.parametrize(
    ("case_id", "data", "kind", "expected"),
    [
        ("same-bytes-as-a-nested-file", b"PAR1 labs", "base64", "dataset/sub/labs.parquet"),
        ("same-size-other-bytes", b"PAR1 stay", "base64", "dataset/stays.parquet"),
        ("text-read", b"PAR1 labs", "text", "dataset/sub/labs.parquet"),
        ("one-byte-changed", b"PAR1 labz", "base64", None),
        ("other-size", b"PAR1", "base64", None),
        ("empty-is-a-copy-of-nothing", b"", "base64", None),
    ],
)
async def test_copy_of(case_id, data, kind, expected, home):
    copies = DatasetCopies(DatasetFolder(str(home), "dataset"))
    assert await copies.copy_of(content(data, kind)) == expected


async def test_only_reads_of_a_dataset_files_size_are_hashed(home):
    copies = DatasetCopies(DatasetFolder(str(home), "dataset"))
    read = content(b"no dataset file has this size")
    assert await copies.copy_of(read) is None
    assert read._sha256 is None, "not hashed: its size matched no dataset file"


@pytest.mark.parametrize("size", [1, 2, 3, 57, 58, 59, 60, 1000])
def test_the_size_of_a_base64_read_is_counted_without_decoding_it(size):
    assert content(bytes(range(256)) * 4 + b"x" * size).size == 1024 + size
