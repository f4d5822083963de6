"""AirlockApp's settings: defaults from JupyterHub's environment, bad values refused with the fix."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from hds_airlock.app import AirlockApp


def app(**settings) -> AirlockApp:
    return AirlockApp(config=Config({"AirlockApp": settings}))


def test_defaults_come_from_the_environment_jupyterhub_gives_a_server(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://10.0.0.1:8081/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "server-token")
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "cohort-2024")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    airlock = app()

    assert airlock.hub_url == "http://10.0.0.1:8081/hub/api/hds/airlock/requests"
    assert (airlock.hub_token, airlock.project, airlock.owner) == (
        "server-token",
        "cohort-2024",
        "alice",
    )
    assert (airlock.max_request_bytes, airlock.max_files) == (5 * 1024 * 1024, 20)
    assert (airlock.release_dirs, airlock.dataset_dir) == (["work", "shared"], "dataset")


def test_without_a_hub_there_is_no_endpoint(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_API_URL", raising=False)
    assert app().hub_url == ""


# (case_id, settings, words of the error)
BAD = [
    ("zero-bytes", {"max_request_bytes": 0}, "AirlockApp.max_request_bytes is 0; write a positive number"),
    ("no-files", {"max_files": 0}, "AirlockApp.max_files is 0; write a positive number"),
    ("no-release-folder", {"release_dirs": []}, "AirlockApp.release_dirs is empty"),
    ("absolute-release-folder", {"release_dirs": ["/home/jovyan/work"]}, "relative to it and without '..'"),
    ("dot-dot-release-folder", {"release_dirs": ["work/../.."]}, "relative to it and without '..'"),
    ("root-as-release-folder", {"release_dirs": ["."]}, "must name a folder inside"),
    ("empty-dataset", {"dataset_dir": ""}, "AirlockApp.dataset_dir '' must name a folder"),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "settings", "words"), BAD, ids=[c[0] for c in BAD])
def test_bad_settings_are_refused_with_what_to_write(case_id, settings, words):
    with pytest.raises(TraitError) as error:
        app(**settings)
    assert words in str(error.value)


def test_release_folders_are_cleaned():
    assert app(release_dirs=["work/", " shared "]).release_dirs == ["work", "shared"]
