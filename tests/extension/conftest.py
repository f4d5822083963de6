"""Fixtures for the data guard in a real jupyter_server: jupyter_server's own test fixtures.

`pytest_plugins = ["jupyter_server.pytest_plugin"]` cannot go here: pytest only accepts it in
the top-level conftest, where its autouse loop fixture and async-test hooks would take over
every tier. So its fixtures are imported into this folder only, minus those two hooks (this
suite's async tests run under pytest-asyncio), and the server runs on pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest
from jupyter_server.auth import IdentityProvider, User
from pytest_jupyter.jupyter_server import *  # noqa: F403 (jp_fetch, jp_serverapp, ...)
from pytest_jupyter.jupyter_server import pytest_pycollect_makeitem, pytest_pyfunc_call

from support.audit_endpoint import AuditEndpoint

del pytest_pycollect_makeitem, pytest_pyfunc_call

# Test-only server extensions in this folder (a_rogue_files_extension) must be importable by
# name; pytest's importlib mode does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = ROOT / "images" / "singleuser" / "etc" / "jupyter"
RESEARCHER = "alice"
BINARY = bytes(range(256)) * 4  # not UTF-8: the contents API can only hand it out as base64


@pytest.fixture
async def jp_asyncio_loop():
    """The server under test runs on the loop that runs the tests."""
    return asyncio.get_running_loop()


@pytest.fixture
async def hub_endpoint():
    endpoint = AuditEndpoint().start()
    yield endpoint
    endpoint.stop()


def shipped_server_config() -> dict:
    """The image's server config and enabling fragments, merged: the tests run what ships."""
    files = [SHIPPED_CONFIG / "jupyter_server_config.json"]
    files += sorted((SHIPPED_CONFIG / "jupyter_server_config.d").glob("*.json"))
    config: dict = {}
    for path in files:  # merged key by key at every depth, as Jupyter merges them
        merge(config, json.loads(path.read_text()))
    config["ServerApp"].pop("root_dir")  # the test's own home folder instead
    # The image's extensions whose packages this tier has: the collaboration extension needs
    # jupyter-collaboration, installed in the image only (the docker tier runs it).
    extensions = config["ServerApp"]["jpserver_extensions"]
    for name, needs in IMAGE_ONLY.items():
        if extensions.get(name) and importlib.util.find_spec(needs) is None:
            del extensions[name]
    return config


IMAGE_ONLY = {"hds_collaboration": "jupyter_server_ydoc"}  # extension: the package it needs


def merge(into: dict, values: dict) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


@pytest.fixture
def guard_config(hub_endpoint, tmp_path, monkeypatch):
    """DataGuardApp settings for a test; tests may change them before the server starts."""
    # The server's hub token, as JupyterHub hands it to a user server.
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub_endpoint.token)
    return {
        "events_url": hub_endpoint.url,
        "project": "cohort-2024",
        "spool_path": str(tmp_path / "spool" / "events.jsonl"),
        "delivery_max_delay": 0.2,
        # Marking pytest itself non-dumpable would outlive the test; checked in the container.
        "harden_process": False,
    }


class ResearcherIdentity(IdentityProvider):
    """Requests carrying the test token are the researcher's (JupyterHub names them too)."""

    def generate_anonymous_user(self, handler):
        return User(username=RESEARCHER, name="Alice Martin")


@pytest.fixture
def jp_server_config(guard_config):
    config = shipped_server_config()
    config.setdefault("ServerApp", {})["identity_provider_class"] = ResearcherIdentity
    # As in a user's server: jupyterhub-singleuser forces it (Tornado then believes X-Real-Ip).
    config["ServerApp"]["trust_xheaders"] = True
    config["DataGuardApp"] = {**config.get("DataGuardApp", {}), **guard_config}
    return config


@pytest.fixture
def project_files(jp_root_dir):
    """A home folder like a user server's: a dataset, a work folder, a link into the dataset."""
    dataset = jp_root_dir / "dataset"
    work = jp_root_dir / "work"
    dataset.mkdir()
    work.mkdir()
    (dataset / "patients.csv").write_text("pseudo_id,sex,age_band\na1b2,F,40-44\n")
    (dataset / "patients.parquet").write_bytes(b"PAR1" + BINARY)
    (dataset / "codebook.ipynb").write_text(json.dumps(_notebook("# Codebook")))
    (work / "analysis.ipynb").write_text(json.dumps(_notebook("# Analysis")))
    (work / "report.html").write_text("<h1>Report</h1>")
    (work / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + BINARY)
    (work / "link.parquet").symlink_to("../dataset/patients.parquet")
    return jp_root_dir


def _notebook(source: str) -> dict:
    return {
        "cells": [{"cell_type": "markdown", "id": "c1", "metadata": {}, "source": source}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def guard(jp_serverapp, project_files):
    """The running extension (after the server started with the project files in place)."""
    return jp_serverapp.web_app.settings["hds_data_guard"]


@pytest.fixture
def event_lines():
    """Every JSON line the guard writes to the server log during the test."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("hds_data_guard.events")
    handler = Collect()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
