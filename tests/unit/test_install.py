"""`make install` into a temporary root: its files, its units as systemd reads them, the proxy's
command line against the hub's own settings, and the nginx example."""

from __future__ import annotations

import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from traitlets.config import PyFileConfigLoader

from jupyter_hds.operations import proxy
from support.hub import ROOT
from support.install import install, relocated, service

UNITS = ("jupyter-hds-hub.service", "jupyter-hds-proxy.service",
         "jupyter-hds-backup.service", "jupyter-hds-backup.timer",
         "jupyter-hds-airlock-purge.service", "jupyter-hds-airlock-purge.timer")  # fmt: skip


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    install(root)
    return root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_install_lays_out_the_service(dest):
    units = dest / "etc/systemd/system"
    assert sorted(p.name for p in units.iterdir()) == sorted(UNITS)
    assert all(mode(units / name) == 0o644 for name in UNITS)
    etc = dest / "etc/jupyter-hds"
    for secret in ("proxy.env", "hub.env", "backup-password"):
        assert mode(etc / secret) == 0o600, secret
    assert re.fullmatch(r"CONFIGPROXY_AUTH_TOKEN=[0-9a-f]{64}\n", (etc / "proxy.env").read_text())
    assert re.fullmatch(r"JUPYTERHUB_CRYPT_KEY=[0-9a-f]{64}\n", (etc / "hub.env").read_text())
    assert (etc / "conf.d/10-site.py.example").exists() and not list(etc.glob("conf.d/*.py"))
    for state in ("var/lib/jupyter-hds", "var/backups/jupyter-hds", "var/cache/jupyter-hds"):
        assert mode(dest / state) == 0o700, state
    app = dest / "opt/jupyter-hds"
    assert (app / "jupyterhub_config.py").read_text() == (
        ROOT / "hub/jupyterhub_config.py"
    ).read_text()
    assert (app / "docs/operating.md").exists() and (app / "nginx-jupyter-hds.conf").exists()
    assert (dest / "usr/local/bin/hds").readlink() == Path("/opt/jupyter-hds/venv/bin/hds")


def test_installing_again_keeps_secrets_and_the_operators_files(dest):
    etc = dest / "etc/jupyter-hds"
    before = {
        name: (etc / name).read_text() for name in ("proxy.env", "hub.env", "backup-password")
    }
    (etc / "conf.d/10-site.py").write_text("c.Deployment.public_url = 'https://mine'\n")
    (etc / "conf.d/10-site.py.example").write_text("# edited\n")
    install(dest)
    assert {name: (etc / name).read_text() for name in before} == before
    assert (etc / "conf.d/10-site.py").read_text() == "c.Deployment.public_url = 'https://mine'\n"
    assert (etc / "conf.d/10-site.py.example").read_text() == "# edited\n"


def test_another_prefix_is_written_into_the_units(tmp_path):
    install(tmp_path, PREFIX="/srv/hds")
    hub = (tmp_path / "etc/systemd/system/jupyter-hds-hub.service").read_text()
    assert "ExecStart=/srv/hds/venv/bin/jupyterhub -f /srv/hds/jupyterhub_config.py" in hub
    assert "/opt/jupyter-hds" not in hub


def test_systemd_reads_the_units_without_a_warning(dest, tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    for name in UNITS:
        text = (dest / "etc/systemd/system" / name).read_text()
        (tmp_path / name).write_text(relocated(text, dest))
    done = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in UNITS)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr


def test_the_units_state_and_config_folders_are_the_documented_ones(dest):
    hub = service((dest / "etc/systemd/system/jupyter-hds-hub.service").read_text())
    assert "HDS_STATE_DIR=/var/lib/jupyter-hds" in hub["Environment"]
    assert "HDS_CONFIG_DIR=/etc/jupyter-hds/conf.d" in hub["Environment"]
    assert hub["EnvironmentFile"] == ["/etc/jupyter-hds/proxy.env", "-/etc/jupyter-hds/hub.env"]
    assert hub["Restart"] == ["on-failure"]
    assert shlex.split(hub["ExecStart"][0])[-1] == "--ConfigurableHTTPProxy.should_start=False"
    proxy_unit = service((dest / "etc/systemd/system/jupyter-hds-proxy.service").read_text())
    assert proxy_unit["EnvironmentFile"] == ["/etc/jupyter-hds/proxy.env"]
    assert proxy_unit["Environment"] == [e for e in hub["Environment"]]
    backup = service((dest / "etc/systemd/system/jupyter-hds-backup.service").read_text())
    assert backup["ExecStart"] == ["/opt/jupyter-hds/venv/bin/hds backup create --quiet"]


@pytest.mark.parametrize(
    ("case_id", "fragment", "expected"),
    [
        ("default", "", "--ip 127.0.0.1 --port 8000 --api-ip 127.0.0.1 --api-port 8001"),
        ("public url", 'c.Deployment.public_url = "http://10.0.0.5:80"', "--ip 10.0.0.5 --port 80"),
        (
            "behind nginx",
            'c.Deployment.public_url = "https://hds.example.org"\nc.JupyterHub.bind_url = "http://127.0.0.1:8000"',
            "--ip 127.0.0.1 --port 8000",
        ),
        (
            "tls by the hub",
            'c.JupyterHub.bind_url = "https://:443"\nc.JupyterHub.ssl_cert = "/c.pem"\nc.JupyterHub.ssl_key = "/k.pem"',
            "--ip '' --port 443",
        ),
        (
            "api and hub port",
            'c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:9001"\nc.Deployment.hub_port = 9081',
            "--api-port 9001 --default-target http://127.0.0.1:9081 --error-target http://127.0.0.1:9081/hub/error",
        ),
    ],
)
def test_the_proxy_unit_listens_where_the_hub_config_says(
    case_id, fragment, expected, tmp_path, monkeypatch
):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d/10-site.py").write_text(fragment + "\n")
    monkeypatch.setenv("HDS_CONFIG_DIR", str(tmp_path / "conf.d"))
    monkeypatch.setenv("HDS_STATE_DIR", str(tmp_path / "state"))
    loader = PyFileConfigLoader("10-site.py", str(tmp_path / "conf.d"))
    line = shlex.join(proxy.command(loader.load_config()))
    assert expected in line
    # The same addresses as the hub computes from the shipped config and the fragment.
    hub = PyFileConfigLoader("jupyterhub_config.py", str(ROOT / "hub")).load_config().JupyterHub
    ip, port = proxy.address(hub.bind_url)
    assert f"--ip {shlex.quote(ip)} --port {port}" in line
    for option in ("ssl_cert", "ssl_key"):
        if option in hub:
            assert f"--{option.replace('_', '-')} {hub[option]}" in line


def test_without_its_token_the_proxy_unit_says_where_it_comes_from(monkeypatch, tmp_path):
    monkeypatch.delenv("CONFIGPROXY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("HDS_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("HDS_CONFIG_DIR", raising=False)
    with pytest.raises(SystemExit, match="/etc/jupyter-hds/proxy.env"):
        proxy.main([])


def test_the_nginx_example_fronts_the_proxy_as_the_docs_say():
    conf = (ROOT / "hub/systemd/nginx-jupyter-hds.conf").read_text()
    assert "proxy_pass http://127.0.0.1:8000;" in conf
    assert 'c.JupyterHub.bind_url = "http://127.0.0.1:8000"' in conf
    assert 'c.JupyterHub.trusted_downstream_ips = ["127.0.0.1"]' in conf
    # Overwritten, not appended to: a browser cannot put an address of its choice in the audit.
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", conf)
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
