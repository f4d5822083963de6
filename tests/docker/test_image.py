"""The built single-user image: data guard enabled and fail-closed, JupyterLab's exits locked.

Small scripts run inside the image (docker-stacks style), as uid 1000 on a read-only root.
"""

from __future__ import annotations

import json

import pytest

from support.image import IMAGE, run_in_image

pytestmark = pytest.mark.docker

LOCKED_PLUGINS = [
    "@jupyterlab/docmanager-extension:download",
    "@jupyterlab/docmanager-extension:open-browser-tab",
    "@jupyterlab/filebrowser-extension:download",  # download and copy-download-link
    "@jupyterlab/filebrowser-extension:open-browser-tab",
    "@jupyterlab/notebook-extension:export",
    "@jupyterlab/apputils-extension:print",
    "@jupyterlab/pluginmanager-extension:plugin",
    "@jupyterlab/extensionmanager-extension:plugin",
    # Output renderers that run code an output carries (docs/security.md): application/javascript
    # (eval) and Vega specs (expressions compiled to functions, data fetched from the origin).
    "@jupyterlab/javascript-extension:factory",
    "@jupyterlab/vega5-extension:factory",
]
# Every server extension in the image. A new one may add routes that hand out file bytes:
# review it against docs/data-guard.md before adding it here.
SERVER_EXTENSIONS = {
    "hds_data_guard",
    # Co-editing (docs/collaboration.md): its rooms follow the data guard's rules.
    "hds_collaboration",
    # Release requests (docs/airlock.md): metadata and the hub's answers, never file bytes.
    "hds_airlock",
    "jupyter_server_fileid",
    "jupyter_server_ydoc",
    "jupyter_server_terminals",
    "jupyterlab",
    # jupyter_lsp and notebook_shim are turned off in the image (etc/jupyter): no language
    # server, no classic-notebook extension; they only cost start-up time.
}

PAGE_CONFIG = """
import json, os
from jupyter_core.paths import jupyter_path
from jupyter_server.serverapp import ServerApp
from jupyterhub.singleuser._disable_user_config import _disable_user_config
from jupyterlab.commands import get_app_dir
from jupyterlab_server.config import get_page_config

if os.environ.get("JUPYTERHUB_DISABLE_USER_CONFIG"):
    _disable_user_config(ServerApp.instance())  # as jupyterhub-singleuser does
app_dir = get_app_dir()
config = get_page_config(jupyter_path("labextensions"), os.path.join(app_dir, "settings"))
print(json.dumps({
    "disabled": config["disabledExtensions"],
    "locked": config.get("lockedExtensions", []),
    "app_dir": app_dir,
}))
"""

SERVER_SETUP = """
import json, os
from jupyter_server.serverapp import ServerApp
from jupyterhub.singleuser._disable_user_config import _disable_user_config
from hds_data_guard import routing

app = ServerApp.instance()
if os.environ.get("JUPYTERHUB_DISABLE_USER_CONFIG"):
    _disable_user_config(app)  # what jupyterhub-singleuser does before loading any config
app.initialize(argv=["--ServerApp.port=0"], new_httpserver=False)
guard = app.web_app.settings.get("hds_data_guard")
[lab] = app.extension_manager.extension_apps["jupyterlab"]
print(json.dumps({
    "extensions": sorted(n for n, on in app.jpserver_extensions.items() if on),
    "loaded": sorted(app.extension_manager.extension_apps),
    "guard": guard is not None,
    "files_handler": app.contents_manager.files_handler_class.__qualname__,
    "reraise": app.reraise_server_extension_failures,
    "unguarded": routing.unguarded_routes(app.web_app, app.base_url),
    "dataset": guard.dataset.os_path if guard else None,
    "lock_all_plugins": lab.lock_all_plugins,
    "extension_manager": lab.extension_manager,
}))
"""


@pytest.fixture(scope="module")
def user_config_dir(tmp_path_factory):
    """A ~/.jupyter written by a researcher who wants the exits back and the guard off."""
    folder = tmp_path_factory.mktemp("dot-jupyter")
    (folder / "labconfig").mkdir()
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps({
            "disabledExtensions": dict.fromkeys(LOCKED_PLUGINS, False),
            "lockedExtensions": dict.fromkeys(LOCKED_PLUGINS, False),
        })
    )  # fmt: skip
    (folder / "jupyter_server_config.json").write_text(
        json.dumps({
            "ServerApp": {"jpserver_extensions": {"hds_data_guard": False}},
            "ContentsManager": {
                "files_handler_class": "jupyter_server.base.handlers.AuthenticatedFileHandler"
            },
            "LabApp": {"lock_all_plugins": False},
        })
    )  # fmt: skip
    folder.chmod(0o755)
    return folder


def with_user_config(folder) -> dict:
    return {str(folder): {"bind": "/home/jovyan/.jupyter", "mode": "ro"}}


def test_the_image_is_the_one_under_test(docker_client):
    labels = docker_client.images.get(IMAGE).labels
    assert "org.jupyter-hds.inputs" in labels, f"{IMAGE} was not built by images/build.py"


def test_the_data_guard_is_enabled_and_answers_every_guarded_route(docker_client):
    server = run_in_image(docker_client, SERVER_SETUP)
    assert set(server["extensions"]) == SERVER_EXTENSIONS
    assert server["guard"] is True
    assert server["unguarded"] == []
    assert server["files_handler"] == "FilesRefusedHandler"
    assert server["reraise"] is True, "a guard that fails to load must stop the server"
    assert server["dataset"] == "/home/jovyan/dataset"
    assert server["lock_all_plugins"] is True
    assert server["extension_manager"] == "readonly"


def test_no_proxy_or_file_server_extension_is_installed(docker_client):
    found = run_in_image(
        docker_client,
        """
        import importlib.util, json
        # jupyter-collaboration is shipped: hds_collaboration holds its rooms to the data
        # guard's rules (tests/docker/test_collaboration.py).
        names = ["jupyter_server_proxy", "voila", "nbclassic", "notebook", "jupyter_server"]
        print(json.dumps([n for n in names if importlib.util.find_spec(n)]))
        """,
    )
    assert found == ["jupyter_server"]  # the control: the probe finds what is installed


def test_jupyterlab_exits_are_disabled_and_locked(docker_client):
    config = run_in_image(docker_client, PAGE_CONFIG)
    for plugin in LOCKED_PLUGINS:
        assert plugin in config["disabled"], plugin
        assert plugin in config["locked"], plugin


def test_every_locked_plugin_exists_in_the_built_jupyterlab(docker_client):
    """A renamed plugin would make its 'disabled' entry a silent no-op."""
    missing = run_in_image(
        docker_client,
        f"""
        import glob, json
        from jupyterlab.commands import get_app_dir
        bundles = "".join(open(p).read() for p in glob.glob(get_app_dir() + "/static/*.js"))
        print(json.dumps([p for p in {LOCKED_PLUGINS!r} if '"' + p + '"' not in bundles]))
        """,
    )
    assert missing == []


def test_a_user_config_cannot_reenable_the_exits(docker_client, user_config_dir):
    config = run_in_image(
        docker_client,
        PAGE_CONFIG,
        environment={"JUPYTERHUB_DISABLE_USER_CONFIG": "1"},
        volumes=with_user_config(user_config_dir),
    )
    for plugin in LOCKED_PLUGINS:
        assert plugin in config["disabled"], plugin
        assert plugin in config["locked"], plugin


def test_a_user_config_cannot_switch_the_guard_off(docker_client, user_config_dir):
    """The hub sets c.Spawner.disable_user_config: the server then ignores ~/.jupyter."""
    server = run_in_image(
        docker_client,
        SERVER_SETUP,
        environment={"JUPYTERHUB_DISABLE_USER_CONFIG": "1"},
        volumes=with_user_config(user_config_dir),
    )
    assert "hds_data_guard" in server["extensions"]
    assert server["guard"] is True
    assert server["unguarded"] == []
    assert server["files_handler"] == "FilesRefusedHandler"
    assert server["lock_all_plugins"] is True


def test_without_disable_user_config_a_user_config_would_switch_the_guard_off(
    docker_client, user_config_dir
):
    """Control: c.Spawner.disable_user_config = True in the hub config is load-bearing."""
    server = run_in_image(docker_client, SERVER_SETUP, volumes=with_user_config(user_config_dir))
    assert "hds_data_guard" not in server["extensions"]


def test_what_holds_the_lab_lock_is_the_image_config_outranking_the_users(
    docker_client, user_config_dir
):
    """Control: with the image's JUPYTER_PREFER_ENV_PATH undone, the same user config wins.

    JupyterLab reads page_config from every config folder, ~/.jupyter included, even with
    disable_user_config; the image's setting is what keeps its locks on top.
    """
    config = run_in_image(
        docker_client,
        PAGE_CONFIG,
        environment={"JUPYTER_PREFER_ENV_PATH": "0", "JUPYTERHUB_DISABLE_USER_CONFIG": "1"},
        volumes=with_user_config(user_config_dir),
    )
    assert not set(LOCKED_PLUGINS) & set(config["disabled"])


def test_home_is_not_writable_by_the_researcher(docker_client):
    result = run_in_image(
        docker_client,
        """
        import json, os
        print(json.dumps({p: os.access(p, os.W_OK) for p in
                          ["/home/jovyan", "/opt/hds/etc/jupyter", "/opt/hds/share/jupyter"]}))
        """,
    )
    assert result == {
        "/home/jovyan": False,
        "/opt/hds/etc/jupyter": False,
        "/opt/hds/share/jupyter": False,
    }


def test_the_single_user_server_loads_no_migration_code_and_compiles_nothing(docker_client):
    # images/singleuser/defer_hub_imports.py: Alembic (hub migrations only) is not imported at
    # a server's start, and orm.py's bytecode was compiled again after the change. A module
    # whose .pyc is missing or stale would be compiled at every start (the root is read-only).
    result = run_in_image(
        docker_client,
        """
        import importlib.util, json, os, sys
        import jupyter_server.serverapp, jupyterhub.singleuser.extension, jupyterhub.orm

        def stale(source):
            try:
                with open(importlib.util.cache_from_source(source), "rb") as pyc:
                    header = pyc.read(16)
            except OSError:
                return True
            checked_by_time = int.from_bytes(header[4:8], "little") == 0
            mtime = int.from_bytes(header[8:12], "little")
            return checked_by_time and mtime != int(os.stat(source).st_mtime) & 0xFFFFFFFF

        sources = {name: getattr(getattr(module, "__spec__", None), "origin", None) or ""
                   for name, module in list(sys.modules.items())}
        migration = sorted(m for m in sys.modules
                           if m.split(".")[0] in ("alembic", "mako", "pygments"))
        # The moved imports still work where they are used: a database made, then checked.
        for _ in range(2):
            jupyterhub.orm.new_session_factory("sqlite:////tmp/hub.sqlite")().close()
        print(json.dumps({
            "migration": migration,
            "revision_checked": "alembic.command" in sys.modules,
            "stale": sorted(n for n, s in sources.items() if s.endswith(".py") and stale(s)),
        }))
        """,
    )
    assert result == {"migration": [], "revision_checked": True, "stale": []}
