"""The built single-user image: the airlock's JupyterLab and server extensions installed and on.

Small scripts run inside the image (docker-stacks style), as uid 1000 on a read-only root.
"""

from __future__ import annotations

import re

import pytest

from support.image import run_in_image

pytestmark = pytest.mark.docker

LAB_EXTENSION = "@jupyter-hds/airlock"
PLUGIN = "@jupyter-hds/airlock:plugin"
# JupyterHub's environment for a server of alice in project cohort-2024.
HUB_ENVIRONMENT = {
    "JUPYTERHUB_API_URL": "http://hub.invalid:8081/hub/api",
    "JUPYTERHUB_API_TOKEN": "server-token",
    "JUPYTERHUB_SERVER_NAME": "cohort-2024",
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_DISABLE_USER_CONFIG": "1",
}

LISTS = """
import json, subprocess

def run(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout + done.stderr

print(json.dumps({
    "lab": run("jupyter", "labextension", "list"),
    "server": run("jupyter", "server", "extension", "list"),
}))
"""

SERVER_SETUP = """
import json, os
from jupyter_server.serverapp import ServerApp
from jupyterhub.singleuser._disable_user_config import _disable_user_config
from hds_data_guard.routing import handler_for

app = ServerApp.instance()
_disable_user_config(app)  # what jupyterhub-singleuser does before loading any config
app.initialize(argv=["--ServerApp.port=0"], new_httpserver=False)
airlock = app.web_app.settings.get("hds_airlock")
handler = handler_for(app.web_app, "POST", app.base_url + "api/hds/airlock/requests")
print(json.dumps({
    "handler": f"{handler.__module__}.{handler.__qualname__}" if handler else None,
    "hub_url": airlock.hub_url if airlock else None,
    "project": airlock.project if airlock else None,
    "owner": airlock.owner if airlock else None,
    "folders": airlock.folders().__dict__ if airlock else None,
    "max_request_bytes": airlock.max_request_bytes if airlock else None,
}))
"""

BUNDLE = """
import glob, json
from jupyter_core.paths import jupyter_path
from jupyterlab_server.config import get_page_config
from jupyterlab.commands import get_app_dir

# JUPYTER_DATA_DIR is the environment's own data folder: it appears twice in the path.
[folder] = {p for p in jupyter_path("labextensions", "@jupyter-hds", "airlock") if glob.glob(p)}
bundles = "".join(open(p).read() for p in glob.glob(folder + "/static/*.js"))
config = get_page_config(jupyter_path("labextensions"), get_app_dir() + "/settings")
print(json.dumps({
    "folder": folder,
    "commands": [c for c in ("hds-airlock:request-release", "hds-airlock:open-requests")
                 if c in bundles],
    "schema": glob.glob(folder + "/schemas/@jupyter-hds/airlock/plugin.json"),
    "disabled": config["disabledExtensions"],
}))
"""


def plain(text: str) -> list[str]:
    """The lines of a `jupyter ... list` output, colours removed, spaces squeezed."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return [" ".join(line.split()) for line in text.splitlines()]


@pytest.fixture(scope="module")
def lists(docker_client):
    return run_in_image(docker_client, LISTS)


def test_the_labextension_is_installed_and_enabled(lists):
    assert f"{LAB_EXTENSION} v0.1.0 enabled OK (python, hds-airlock)" in plain(lists["lab"])


def test_the_server_extension_is_enabled_and_loads(lists):
    lines = plain(lists["server"])
    assert "hds_airlock enabled" in lines
    assert "hds_airlock 0.1.0 OK" in lines


def test_the_built_plugin_carries_both_commands_and_its_menus(docker_client):
    found = run_in_image(docker_client, BUNDLE)
    assert found["folder"] == "/opt/hds/share/jupyter/labextensions/@jupyter-hds/airlock"
    assert found["commands"] == ["hds-airlock:request-release", "hds-airlock:open-requests"]
    assert found["schema"], "the plugin schema (its context-menu and File-menu entries) is missing"
    assert PLUGIN not in found["disabled"]


def test_a_user_server_answers_the_route_with_the_hub_it_was_given(docker_client):
    """As jupyterhub-singleuser starts it: user config off, JupyterHub's variables set."""
    server = run_in_image(docker_client, SERVER_SETUP, environment=HUB_ENVIRONMENT)
    assert server == {
        "handler": "hds_airlock.handlers.ReleaseRequestsHandler",
        "hub_url": "http://hub.invalid:8081/hub/api/hds/airlock/requests",
        "project": "cohort-2024",
        "owner": "alice",
        "folders": {
            "root_dir": "/home/jovyan",
            "release_dirs": ["work", "shared"],
            "dataset_dir": "dataset",
        },
        "max_request_bytes": 5 * 1024 * 1024,
    }
