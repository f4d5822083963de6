"""The guard's settings, each tried in a real server: stricter policies, help text, bad values."""

from __future__ import annotations

import json

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hds_data_guard import DataGuardApp
from hds_data_guard.handlers import FilesRefusedHandler


class TestNoDatasetContent:
    @pytest.fixture
    def guard_config(self, guard_config):
        return {**guard_config, "dataset_content": "none"}

    async def test_text_reads_of_dataset_files_are_refused(self, jp_fetch, guard, hub_endpoint):
        response = await jp_fetch("api", "contents", "dataset", "patients.csv",
                                  params={"format": "text"}, raise_error=False)  # fmt: skip
        assert response.code == 403
        assert "cannot be opened in the browser" in json.loads(response.body)["message"]
        assert await guard.sink.flush()
        assert hub_endpoint.actions() == [
            ("dataset.read.blocked", "dataset/patients.csv", "refused")
        ]

    async def test_listing_the_dataset_still_works(self, jp_fetch, guard, hub_endpoint):
        response = await jp_fetch("api", "contents", "dataset")
        names = {item["name"] for item in json.loads(response.body)["content"]}
        assert names == {"patients.csv", "patients.parquet", "codebook.ipynb"}
        assert await guard.sink.flush()
        assert hub_endpoint.events == []


class TestRawReadsRefusedEverywhere:
    @pytest.fixture
    def guard_config(self, guard_config):
        return {**guard_config, "refuse_raw_reads": True}

    async def test_raw_read_of_a_work_file_is_refused(self, jp_fetch, guard, hub_endpoint):
        response = await jp_fetch("api", "contents", "work", "plot.png",
                                  params={"format": "base64"}, raise_error=False)  # fmt: skip
        assert response.code == 403
        assert await guard.sink.flush()
        assert hub_endpoint.actions() == [("download.blocked", "work/plot.png", "refused")]

    async def test_binary_file_without_format_is_refused_after_reading(
        self, jp_fetch, guard, hub_endpoint
    ):
        response = await jp_fetch("api", "contents", "work", "plot.png", raise_error=False)
        assert response.code == 403
        assert b"PNG" not in response.body

    async def test_notebooks_still_open(self, jp_fetch, guard, hub_endpoint):
        response = await jp_fetch("api", "contents", "work", "analysis.ipynb")
        assert json.loads(response.body)["type"] == "notebook"


class TestExportHelp:
    @pytest.fixture
    def guard_config(self, guard_config):
        return {**guard_config, "export_help": "Ask your data custodian for an output review."}

    async def test_refusals_tell_how_results_leave(self, jp_fetch, guard):
        response = await jp_fetch("files", "work", "report.html", raise_error=False)
        assert response.code == 403
        assert "Ask your data custodian for an output review." in response.body.decode()


class TestOtherDatasetFolder:
    @pytest.fixture
    def guard_config(self, guard_config):
        return {**guard_config, "dataset_dir": "work/"}

    async def test_the_configured_folder_is_guarded(self, jp_fetch, guard, hub_endpoint):
        assert guard.dataset.api_path == "work"
        response = await jp_fetch("api", "contents", "work", "plot.png",
                                  params={"format": "base64"}, raise_error=False)  # fmt: skip
        assert response.code == 403
        assert await guard.sink.flush()
        assert hub_endpoint.actions() == [("dataset.read.blocked", "work/plot.png", "refused")]


async def test_jupyters_own_files_route_refuses_too(jp_serverapp, guard):
    """The shipped config makes Jupyter's /files/ handler the guard's, should routing change."""
    assert jp_serverapp.contents_manager.files_handler_class is FilesRefusedHandler


@pytest.mark.parametrize(
    ("case_id", "value", "expected"),
    [
        ("plain", "dataset", ("ok", "dataset")),
        ("trailing-slash", "dataset/", ("ok", "dataset")),
        ("nested", "data/cohort", ("ok", "data/cohort")),
        ("absolute", "/home/jovyan/dataset", ("error", "relative to it")),
        ("parent", "../dataset", ("error", "without '..'")),
        ("empty", "", ("error", "dataset_dir is empty")),
    ],
)
def test_dataset_dir_setting(case_id, value, expected):
    config = Config({"DataGuardApp": {"dataset_dir": value}})
    kind, text = expected
    if kind == "ok":
        assert DataGuardApp(config=config).dataset_dir == text
        return
    with pytest.raises(TraitError, match=text):
        DataGuardApp(config=config)


def test_dataset_content_rejects_unknown_values():
    with pytest.raises(TraitError, match="'text' or 'none'|text.*none"):
        DataGuardApp(config=Config({"DataGuardApp": {"dataset_content": "all"}}))
