"""The installed units' own command lines, run: the proxy unit, then the hub unit behind it.

systemd does not run in this container, so the test starts each unit's ExecStart with the
unit's Environment= and EnvironmentFile= (paths moved into the temporary root and to this
checkout's venv), the way systemd would.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from textwrap import dedent

import pytest
import requests

from support.docker_engine import RUN_PREFIX
from support.hub import free_port, wait_for_http
from support.install import install, relocated, service

pytestmark = pytest.mark.hub


def unit_environment(unit: dict[str, list[str]]) -> dict[str, str]:
    env = {"LANG": "C.UTF-8"}
    for entry in unit.get("EnvironmentFile", []):
        path = Path(entry.removeprefix("-"))
        if entry.startswith("-") and not path.exists():
            continue
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    for entry in unit["Environment"]:
        key, _, value = entry.partition("=")
        env[key] = value
    return env


class Unit:
    """One installed unit's ExecStart, running as systemd would start it."""

    def __init__(self, dest: Path, name: str, log: Path):
        self.spec = service(relocated((dest / "etc/systemd/system" / name).read_text(), dest))
        self.log_path = log
        self.process: subprocess.Popen | None = None

    def start(self) -> Unit:
        self.process = subprocess.Popen(
            shlex.split(self.spec["ExecStart"][0]),
            env=unit_environment(self.spec),
            cwd=self.spec.get("WorkingDirectory", ["/"])[0],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def installed(tmp_path):
    dest = tmp_path / "root"
    install(dest)
    ports = {name: free_port() for name in ("public", "hub", "api", "audit", "usage")}
    (dest / "etc/jupyter-hds/conf.d/00-test.py").write_text(
        dedent(f"""
        c.Deployment.public_url = "http://127.0.0.1:{ports["public"]}"
        c.Deployment.hub_port = {ports["hub"]}
        c.Deployment.ports = {{"audit": {ports["audit"]}, "usage": {ports["usage"]}}}
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["api"]}"
        c.HDSDockerSpawner.prefix = "{RUN_PREFIX}"
        c.JupyterHub.authenticator_class = "null"
    """)
    )
    units: list[Unit] = []
    yield dest, ports, units
    for unit in reversed(units):
        unit.stop()


def token(dest: Path) -> str:
    return (dest / "etc/jupyter-hds/proxy.env").read_text().strip().partition("=")[2]


def routes(ports, dest) -> dict:
    response = requests.get(
        f"http://127.0.0.1:{ports['api']}/api/routes",
        headers={"Authorization": f"token {token(dest)}"},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def _answers(call) -> bool:
    try:
        call()
    except requests.RequestException:
        return False
    return True


def test_the_hub_unit_runs_behind_the_proxy_unit_which_outlives_it(installed, tmp_path):
    dest, ports, units = installed
    proxy = Unit(dest, "jupyter-hds-proxy.service", tmp_path / "proxy.log").start()
    units.append(proxy)
    deadline = time.monotonic() + 30
    while not _answers(lambda: routes(ports, dest)):
        assert proxy.process.poll() is None and time.monotonic() < deadline, proxy.log()
        time.sleep(0.3)
    hub = Unit(dest, "jupyter-hds-hub.service", tmp_path / "hub.log").start()
    units.append(hub)
    health = f"http://127.0.0.1:{ports['public']}/hub/health"
    wait_for_http(hub.process, health, 90, "hub", hub.log)
    assert "Not starting proxy" in hub.log()
    assert (dest / "var/lib/jupyter-hds/hds-settings.json").exists()  # its state folder
    assert "/" in routes(ports, dest)  # the hub registered itself with the proxy

    hub.stop()
    assert proxy.process.poll() is None, proxy.log()
    assert "/" in routes(ports, dest)  # routes are kept for the hub's return
    hub.start()
    wait_for_http(hub.process, health, 90, "hub", hub.log)


def test_tls_by_the_hubs_own_certificate(installed, tmp_path):
    dest, ports, units = installed
    cert, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    (dest / "etc/jupyter-hds/conf.d/10-tls.py").write_text(
        dedent(f"""
        c.JupyterHub.bind_url = "https://127.0.0.1:{ports["public"]}"
        c.JupyterHub.ssl_cert = "{cert}"
        c.JupyterHub.ssl_key = "{key}"
    """)
    )
    proxy = Unit(dest, "jupyter-hds-proxy.service", tmp_path / "proxy.log").start()
    units.append(proxy)
    hub = Unit(dest, "jupyter-hds-hub.service", tmp_path / "hub.log").start()
    units.append(hub)
    url = f"https://127.0.0.1:{ports['public']}/hub/health"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proxy.process.poll() is None, proxy.log()
        assert hub.process.poll() is None, hub.log()
        try:
            if requests.get(url, verify=str(cert), timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        raise AssertionError(f"no TLS answer at {url}:\n{proxy.log()}\n{hub.log()}")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{ports['public']}/hub/health", timeout=5)
