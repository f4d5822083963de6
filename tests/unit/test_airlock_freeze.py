"""Freezing on a real folder tree: exact bytes copied, links and the dataset refused, changes caught."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from jupyter_hds.airlock import freeze as freezing
from jupyter_hds.airlock.freeze import Sources, freeze
from jupyter_hds.airlock.store import ReleaseStore
from jupyter_hds.policy.airlock import parse_draft
from jupyter_hds.policy.refusal import Refused

TABLE = b"age_band,sex,count\n40-44,F,12\n40-44,M,15\n"


@pytest.fixture
def tree(tmp_path):
    """projects/cohort/{shared, users/rosa, users/lou} and the dataset, as on the hub's host."""
    projects = tmp_path / "projects"
    work = projects / "cohort" / "users" / "rosa"
    (work / "sub").mkdir(parents=True)
    (projects / "cohort" / "users" / "lou").mkdir()
    (projects / "cohort" / "shared").mkdir()
    dataset = tmp_path / "datasets" / "cohort"
    dataset.mkdir(parents=True)
    (dataset / "patients.parquet").write_bytes(b"PAR1 secret rows PAR1")
    (work / "t.csv").write_bytes(TABLE)
    (projects / "cohort" / "users" / "lou" / "private.csv").write_bytes(b"lou's\n")
    return tmp_path, Sources(projects, "cohort", "rosa", dataset), work


def claim(path: str, data: bytes, **extra) -> dict:
    return {"path": path, "description": "d", "min_cell_size": None, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), **extra}  # fmt: skip


def draft(*files, outputs="strip"):
    body = {"project": "cohort", "purpose": "p", "files": list(files), "notebook_outputs": outputs}
    return parse_draft(body, max_files=20, max_bytes=10**7)


def run(tmp_path, sources, *files, outputs="strip"):
    target = tmp_path / "frozen"
    target.mkdir(exist_ok=True)
    return freeze(draft(*files, outputs=outputs), sources, target), target


def test_files_are_copied_byte_for_byte_root_only_and_stay_as_they_were(tree):
    tmp_path, sources, work = tree
    (sources.projects_root / "cohort" / "shared" / "fig.png").write_bytes(b"\x89PNG fig")
    frozen, target = run(tmp_path, sources, claim("work/t.csv", TABLE),
                         claim("shared/fig.png", b"\x89PNG fig"))  # fmt: skip
    assert [(f.number, f.path, f.size) for f in frozen] == [
        (1, "work/t.csv", len(TABLE)), (2, "shared/fig.png", 8)]  # fmt: skip
    assert (target / "1").read_bytes() == TABLE
    assert stat.S_IMODE((target / "1").stat().st_mode) == 0o600
    (work / "t.csv").write_bytes(b"age_band,sex,count\n40-44,F,3\n")  # edited afterwards
    assert (target / "1").read_bytes() == TABLE
    assert frozen[0].sha256 == hashlib.sha256(TABLE).hexdigest() == frozen[0].source_sha256


@pytest.mark.parametrize(
    "case_id, make, path",
    [
        ("link-to-dataset", lambda t, w: os.symlink(t / "datasets/cohort/patients.parquet",
                                                    w / "p.parquet"), "work/p.parquet"),
        ("relative-link", lambda t, w: os.symlink("t.csv", w / "same.csv"), "work/same.csv"),
        ("linked-folder", lambda t, w: os.symlink(t / "datasets/cohort", w / "data"),
         "work/data/patients.parquet"),
        ("link-to-a-colleague", lambda t, w: os.symlink("../users/lou",
                                                        t / "projects/cohort/shared/lou"),
         "shared/lou/private.csv"),
    ],
)  # fmt: skip
def test_a_symbolic_link_anywhere_in_the_path_is_refused(tree, case_id, make, path):
    tmp_path, sources, work = tree
    make(tmp_path, work)
    with pytest.raises(Refused) as refused:
        run(tmp_path, sources, claim(path, b"PAR1 secret rows PAR1"))
    assert refused.value.reason == "symlink"
    assert "symbolic link" in refused.value.message
    assert not list((tmp_path / "frozen").iterdir())


def test_a_hard_link_to_a_dataset_file_is_refused(tree):
    tmp_path, sources, work = tree
    os.link(tmp_path / "datasets/cohort/patients.parquet", work / "copy.parquet")
    with pytest.raises(Refused) as refused:
        run(tmp_path, sources, claim("work/copy.parquet", b"PAR1 secret rows PAR1"))
    assert refused.value.reason == "dataset"


def test_a_file_changed_between_hashing_and_copying_is_refused(tree):
    tmp_path, sources, work = tree
    hashed = claim("work/t.csv", TABLE)  # what the server checked
    (work / "t.csv").write_bytes(TABLE.replace(b"12", b"03"))  # same size, other bytes
    with pytest.raises(Refused) as refused:
        run(tmp_path, sources, hashed)
    assert (refused.value.reason, refused.value.status) == ("changed", 409)
    (work / "t.csv").write_bytes(TABLE + b"50-54,F,20\n")  # another size
    with pytest.raises(Refused, match="bytes, not"):
        run(tmp_path, sources, hashed)


def test_a_file_written_to_while_it_is_copied_is_refused(tree, monkeypatch):
    tmp_path, sources, work = tree
    big = b"x" * 1000
    (work / "big.csv").write_bytes(big)
    monkeypatch.setattr(freezing, "CHUNK", 100)
    real_read = os.read
    calls = []

    def read_then_write(fd, n):
        calls.append(n)
        if len(calls) == 2:  # the researcher saves while the hub copies
            with open(work / "big.csv", "r+b") as f:
                f.seek(900)
                f.write(b"y" * 100)
        return real_read(fd, n)

    monkeypatch.setattr(freezing.os, "read", read_then_write)
    with pytest.raises(Refused) as refused:
        run(tmp_path, sources, claim("work/big.csv", big))
    assert refused.value.reason == "changed"


@pytest.mark.parametrize(
    "case_id, make, path, reason",
    [
        ("folder", lambda w: None, "work/sub", "not-a-file"),
        ("fifo", lambda w: os.mkfifo(w / "pipe"), "work/pipe", "not-a-file"),
        ("missing", lambda w: None, "work/gone.csv", "missing"),
        ("file-as-folder", lambda w: None, "work/t.csv/x", "not-a-file"),
    ],
)
def test_what_is_not_a_regular_file_is_refused(tree, case_id, make, path, reason):
    tmp_path, sources, work = tree
    make(work)
    with pytest.raises(Refused) as refused:
        run(tmp_path, sources, claim(path, b""))
    assert refused.value.reason == reason


def test_a_member_space_that_is_not_there_says_so(tree):
    tmp_path, sources, work = tree
    other = Sources(sources.projects_root, "cohort", "nobody", sources.dataset)
    with pytest.raises(Refused) as refused:
        run(tmp_path, other, claim("work/t.csv", TABLE))
    assert refused.value.reason == "no-storage"


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Results"]},
        {"cell_type": "code", "execution_count": 3, "metadata": {}, "source": ["df"],
         "outputs": [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                      "data": {"text/plain": ["   n\n0  3"], "text/html": ["<table></table>"]}}]},
    ],
    "metadata": {"widgets": {"state": "rows"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}  # fmt: skip


def test_notebook_outputs_are_stripped_when_asked(tree):
    tmp_path, sources, work = tree
    data = json.dumps(NOTEBOOK).encode()
    (work / "a.ipynb").write_bytes(data)
    (frozen,), target = run(tmp_path, sources, claim("work/a.ipynb", data))
    stripped = json.loads((target / "1").read_bytes())
    assert stripped["cells"][1]["outputs"] == [] and stripped["cells"][1]["execution_count"] is None
    assert "widgets" not in stripped["metadata"]
    assert frozen.stripped and frozen.source_sha256 == hashlib.sha256(data).hexdigest()
    assert frozen.sha256 == hashlib.sha256((target / "1").read_bytes()).hexdigest()
    assert frozen.sha256 != frozen.source_sha256


def test_notebook_outputs_are_kept_when_asked(tree):
    tmp_path, sources, work = tree
    data = json.dumps(NOTEBOOK).encode()
    (work / "a.ipynb").write_bytes(data)
    (frozen,), target = run(tmp_path, sources, claim("work/a.ipynb", data), outputs="keep")
    assert (target / "1").read_bytes() == data and not frozen.stripped


def test_a_broken_notebook_cannot_be_stripped(tree):
    tmp_path, sources, work = tree
    (work / "b.ipynb").write_bytes(b"{not json")
    with pytest.raises(Refused) as refused:
        run(tmp_path, sources, claim("work/b.ipynb", b"{not json"))
    assert refused.value.reason == "bad-notebook"


def test_nothing_half_written_reaches_the_release_area(tree):
    tmp_path, sources, work = tree
    store = ReleaseStore(tmp_path / "releases")
    bad = draft(claim("work/t.csv", TABLE), claim("work/missing.csv", b"x"))
    with pytest.raises(Refused), store.building() as (request_id, folder):
        freeze(bad, sources, folder / "files")
    assert list(store.root.iterdir()) == []
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    good = draft(claim("work/t.csv", TABLE))
    with store.building() as (request_id, folder):
        freeze(good, sources, folder / "files")
        store.write(folder, {"id": request_id, "created": "2026"})
    assert [p.name for p in store.root.iterdir()] == [request_id]
    assert store.blob(request_id, 1).read_bytes() == TABLE
