"""Fixtures shared by every tier: the Docker engine, a real hub, logs attached to failures."""

from __future__ import annotations

import os

import pytest

from support import docker_engine
from support.hub import ROOT, RealHub

# The proxy JupyterHub starts (in-process hubs included) comes from the project's node_modules.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when in ("call", "setup"):
        for argument in getattr(item, "funcargs", {}).values():
            values = argument if isinstance(argument, tuple) else (argument,)  # (hub, provider)
            for value in (v for v in values if isinstance(v, RealHub)):
                report.sections.append(("hub log", value.log()))
        if "docker_client" in getattr(item, "funcargs", {}):
            logs = docker_engine.container_logs(item.funcargs["docker_client"])
            report.sections.append(("container logs", logs or "(no containers)"))
    return report


@pytest.fixture(scope="module", autouse=True)
def _project_checks_left_to_no_other_module():
    """Running the shipped hub config in-process (tests of `configure`) installs the project
    checks on every database session of this process; no module leaves them to the next."""
    yield
    from jupyter_hds.projects import validation

    validation.uninstall()


@pytest.fixture(scope="session")
def docker_client():
    """The real Docker engine; fails (never skips) when it does not answer."""
    client = docker_engine.connect()
    docker_engine.remove_objects(client, only_dead=True)
    yield client
    docker_engine.remove_objects(client, only_dead=False)


@pytest.fixture(scope="module")
def real_hub(tmp_path_factory, docker_client):
    """The shipped hub config running for real, with DockerSpawner and the built image."""
    hub = RealHub(tmp_path_factory.mktemp("hub-state")).start()
    yield hub
    hub.stop()
