"""The shipped hub config: a short page, and each subsystem's part as its code expects it."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from traitlets.config import Config, PyFileConfigLoader

from jupyter_hds import branding, i18n, origins
from jupyter_hds.airlock import config as airlock
from jupyter_hds.audit import config as audit
from jupyter_hds.audit import pages as audit_pages
from jupyter_hds.audit import service as audit_service
from jupyter_hds.datasets import config as datasets
from jupyter_hds.deployment import Deployment
from jupyter_hds.oidc import config as login
from jupyter_hds.projects import config as projects
from jupyter_hds.sharing import config as sharing
from jupyter_hds.terms import config as terms
from jupyter_hds.usage import config as usage
from jupyter_hds.usage import pages as usage_pages
from jupyter_hds.usage import service as usage_service

PAGE = Path(__file__).resolve().parents[2] / "hub" / "jupyterhub_config.py"
SUBSYSTEMS = [
    projects,
    datasets,
    login,
    audit,
    usage,
    sharing,
    airlock,
    terms,
    i18n,
    branding,
    origins,
]


@pytest.fixture
def hub_config(tmp_path, monkeypatch) -> Config:
    monkeypatch.setenv("HDS_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("HDS_CONFIG_DIR", raising=False)
    return PyFileConfigLoader(PAGE.name, str(PAGE.parent)).load_config()


def by_name(items):
    return {item["name"]: item for item in items}


def test_the_page_is_short_and_holds_no_logic():
    lines = [line for line in PAGE.read_text().splitlines() if line.strip()]
    assert len(PAGE.read_text().splitlines()) < 80
    assert not [line for line in lines if re.match(r"\s*(if|while|def|class|try)\b", line)]


def test_configure_is_idempotent(tmp_path):
    once, twice = Config(), Config()
    deployment = Deployment(state_dir=str(tmp_path))
    for subsystem in SUBSYSTEMS:
        subsystem.configure(once, deployment)
        subsystem.configure(twice, deployment)
        subsystem.configure(twice, deployment)
    # Equal but for function objects made anew (closures): compare those by name.
    assert re.sub(r" at 0x[0-9a-f]+", "", repr(once)) == re.sub(r" at 0x[0-9a-f]+", "", repr(twice))


def test_every_role_names_defined_services_and_scopes(hub_config):
    services = by_name(hub_config.JupyterHub.services)
    custom = set(hub_config.JupyterHub.custom_scopes)
    for role in hub_config.JupyterHub.load_roles:
        assert set(role.get("services", [])) <= set(services), role["name"]
        used = {s.split("!")[0] for s in role["scopes"] if s.startswith("custom:")}
        assert used <= custom, role["name"]
    for service in services.values():
        for scope in service.get("oauth_client_allowed_scopes", []):
            assert scope in custom, service["name"]


def test_services_listen_where_their_code_expects(hub_config, tmp_path):
    services = by_name(hub_config.JupyterHub.services)
    assert services["audit"]["url"] == f"http://127.0.0.1:{audit_service.PORT}"
    assert services["usage"]["url"] == f"http://127.0.0.1:{usage_service.PORT}"
    assert services["audit"]["oauth_client_allowed_scopes"] == [audit_pages.READ_SCOPE]
    assert services["usage"]["oauth_client_allowed_scopes"] == [usage_pages.READ_SCOPE]
    for service in services.values():  # each finds the state (and settings) the hub publishes
        if "command" in service:
            assert service["environment"]["HDS_STATE_DIR"] == str(tmp_path)


@pytest.mark.parametrize(
    "role, needed",
    [
        # The guard and the compute watch stop servers; the culler reads activity too.
        ("project-guard", {"list:users", "read:servers", "delete:servers", "read:groups"}),
        ("usage-service", {"list:users", "read:servers", "delete:servers", "read:groups"}),
        ("idle-culler", {"list:users", "read:users:activity", "read:servers", "delete:servers"}),
        ("auditor", {audit_pages.READ_SCOPE, "access:services!service=audit"}),
        ("usage-reader", {usage_pages.READ_SCOPE, "access:services!service=usage"}),
    ],
)
def test_each_service_role_holds_what_its_code_calls(hub_config, role, needed):
    assert needed <= set(by_name(hub_config.JupyterHub.load_roles)[role]["scopes"])


def test_the_hosting_team_cannot_open_servers_or_make_tokens(hub_config):
    scopes = set(by_name(hub_config.JupyterHub.load_roles)["hds-admin"]["scopes"])
    assert not {s for s in scopes if s.split("!")[0] in ("access:servers", "shares")}
    # Tokens for themselves only (`hds project`), never for a researcher; no stored logins
    # (admin:users carries admin:auth_state), no making anyone a JupyterHub admin.
    assert {s for s in scopes if s.startswith("tokens")} == {"tokens!user"}
    assert not scopes & {"admin:users", "admin:auth_state"}


def test_named_classes_resolve_to_ours(hub_config):
    spawners = entry_points(group="jupyterhub.spawners")
    authenticators = entry_points(group="jupyterhub.authenticators")
    spawner = spawners[hub_config.JupyterHub.spawner_class].load()
    authenticator = authenticators[hub_config.JupyterHub.authenticator_class].load()
    assert (spawner.__name__, authenticator.__name__) == (
        "HDSDockerSpawner",
        "HDSOIDCAuthenticator",
    )


def test_the_servers_report_where_the_hub_listens(hub_config, monkeypatch):
    from hds_data_guard.app import DataGuardApp

    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://10.213.0.1:8081/hub/api")
    posted_to = DataGuardApp().events_url
    handlers = [pattern for pattern, *_ in hub_config.JupyterHub.extra_handlers]
    # Hub handlers are routed under /hub: the data guard's URL must reach one of them.
    path = posted_to.removeprefix("http://10.213.0.1:8081/hub")
    assert [p for p in handlers if re.fullmatch(p, path)] == [audit.EVENTS_PATH]


def test_the_hub_publishes_its_settings(hub_config, tmp_path):
    assert (tmp_path / "hds-settings.json").is_file()
    assert hub_config.JupyterHub.db_url == f"sqlite:///{tmp_path}/jupyterhub.sqlite"
