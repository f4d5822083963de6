"""The hub's services end promptly: on SIGINT or SIGTERM, and when the hub itself is killed.

A small HubService runs as a real process, as the hub runs its services; JupyterHub sends
SIGINT first (then SIGTERM after 30 s), and a hub started in a shell's background ignores
SIGINT, which its children inherit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from textwrap import dedent

import pytest
from traitlets.config import Config

from jupyter_hds import services, settings
from jupyter_hds.deployment import Deployment

SERVICE = dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from tornado import ioloop
    from jupyter_hds.services import HubService

    folder = Path(sys.argv[1])

    class Busy(HubService):
        name = "busy"

        def start(self):
            ioloop.IOLoop.current().add_callback(self.work)
            super().start()

        async def work(self):
            await asyncio.to_thread(self.slow)

        def slow(self):  # work in a thread, still running when the signal comes
            (folder / "working").touch()
            time.sleep(1.5)
            (folder / "worked").touch()

        def stop(self):
            (folder / "stopped").touch()

    Busy.launch_instance([])
""")
# Starts the service as the hub would, then dies by SIGKILL once it works.
PARENT = dedent("""
    import os, signal, subprocess, sys, time
    from pathlib import Path
    folder = Path(sys.argv[1])
    child = subprocess.Popen([sys.executable, "-c", sys.argv[2], str(folder)],
                             env={**os.environ, "HDS_HUB_PID": str(os.getpid())},
                             start_new_session=True)
    (folder / "child").write_text(str(child.pid))
    while not (folder / "working").exists():
        time.sleep(0.1)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.fixture
def environment(tmp_path) -> dict[str, str]:
    state = tmp_path / "state"
    settings.publish(Config({"Deployment": {"state_dir": str(state)}}))
    return {
        **os.environ,
        "HDS_STATE_DIR": str(state),
        "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
        "JUPYTERHUB_API_TOKEN": "unused",
    }


def wait_for(path: Path, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process is None or process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.1)


def ended(pid: int, timeout: float = 30) -> bool:
    """Whether process `pid` is gone (or a zombie) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_service_after_its_threads_work(tmp_path, environment, number):
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, str(tmp_path)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # Inherited from a hub started as a shell's background job: SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    wait_for(tmp_path / "working", service)
    service.send_signal(number)
    assert service.wait(30) == 0, service.communicate()
    assert (tmp_path / "stopped").exists() and (tmp_path / "worked").exists()


def test_a_service_ends_when_its_hub_is_killed(tmp_path, environment):
    hub = subprocess.run(
        [sys.executable, "-c", PARENT, str(tmp_path), SERVICE],
        env=environment,
        timeout=120,
        check=False,
    )
    assert hub.returncode == -signal.SIGKILL
    child = int((tmp_path / "child").read_text())
    try:
        assert ended(child), "the service outlived its hub"
    finally:
        if not ended(child, timeout=0):
            os.kill(child, signal.SIGKILL)
    assert (tmp_path / "stopped").exists()


def test_services_inherit_an_interruptible_hub_and_know_its_pid(tmp_path):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        environment = services.service_environment(Deployment(state_dir=str(tmp_path)))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert environment == {"HDS_STATE_DIR": str(tmp_path), "HDS_HUB_PID": str(os.getpid())}
