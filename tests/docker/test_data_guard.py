"""The data guard in a real container of the real image, through the real hub's proxy.

A researcher (a hub user with her own API token) opens her project server and tries every
route that hands file bytes to the browser. The project's dataset is mounted read-only at
~/dataset and her own space at ~/work, as for any project. (A hostile ~/.jupyter cannot
exist in a project server, whose home is read-only; tests/docker/test_image.py mounts one.)

Events go to the hub's real audit endpoint (/hub/api/hds/audit/events) and are read back
from the hub's audit record; an outage is a real one (the host firewall rejects the
container's packets to the hub for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import subprocess
import time
from urllib.parse import urlencode

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from hds_quota.plans import DEFAULT_PLANS
from jupyter_hds.projects.networks import bridge_of
from support import audit_record, docker_engine
from support.hub import RealHub, make_dataset, make_project
from support.kernel_channels import PROTOCOL, KernelChannels

pytestmark = pytest.mark.docker

USER, PROJECT = "alice", "cohort-a"
BINARY = bytes(range(256)) * 16
# The dataset file: 162,728 bytes of Parquet (here, bytes that compress like it).
STAYS = b"PAR1" + random.Random(11).randbytes(162_720) + b"PAR1"  # noqa: S311 (test data)
# Each person may receive this much a day in the browser (the project's plan says so).
BUDGET = 3 * 1024 * 1024
PLANS = {"public": {**DEFAULT_PLANS["public"], "browser_bytes_day": BUDGET}}
LOCKED_PLUGINS = [
    "@jupyterlab/docmanager-extension:download",
    "@jupyterlab/docmanager-extension:open-browser-tab",
    "@jupyterlab/filebrowser-extension:download",
    "@jupyterlab/filebrowser-extension:open-browser-tab",
    "@jupyterlab/notebook-extension:export",
    "@jupyterlab/apputils-extension:print",
    "@jupyterlab/pluginmanager-extension:plugin",
    "@jupyterlab/extensionmanager-extension:plugin",
]
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

DOWNLOAD, EXPORT, RAW = "Downloads are disabled", "Exporting notebooks", "as raw bytes"
API, PARQUET, CSV = "/api/contents", "dataset/patients.parquet", "dataset/patients.csv"

# Same shape as tests/extension/test_routes.py, through the proxy to the real container.
# (case_id, request: (method, path, query, JSON body), expected: (status, words, event))
CASES = [
    ("files-get", ("GET", "files/work/analysis.ipynb", {}, None),
     (403, DOWNLOAD, ("download.blocked", "work/analysis.ipynb", "refused", "/files"))),
    ("files-download", ("GET", f"files/{CSV}", {"download": "1"}, None),
     (403, DOWNLOAD, ("download.blocked", CSV, "refused", "/files"))),
    ("files-head", ("HEAD", f"files/{PARQUET}", {}, None),
     (403, "", ("download.blocked", PARQUET, "refused", "/files"))),
    ("view-get", ("GET", "view/work/report.html", {}, None),
     (403, DOWNLOAD, ("download.blocked", "work/report.html", "refused", "/view"))),
    ("nbconvert-get", ("GET", "nbconvert/html/work/analysis.ipynb", {"download": "true"}, None),
     (403, EXPORT, ("export.blocked", "work/analysis.ipynb", "refused", "/nbconvert"))),
    ("nbconvert-post", ("POST", "nbconvert/html", {}, {"name": "x.ipynb", "content": NOTEBOOK}),
     (403, EXPORT, ("export.blocked", None, "refused", "/nbconvert"))),
    ("contents-base64-dataset", ("GET", f"api/contents/{PARQUET}", {"format": "base64"}, None),
     (403, RAW, ("dataset.read.blocked", PARQUET, "refused", API))),
    ("contents-no-format-binary-dataset", ("GET", f"api/contents/{PARQUET}", {}, None),
     (403, RAW, ("dataset.read.blocked", PARQUET, "refused", API))),
    ("contents-base64-link-into-dataset",
     ("GET", "api/contents/work/link.parquet", {"format": "base64"}, None),
     (403, RAW, ("dataset.read.blocked", "work/link.parquet", "refused", API))),
    ("contents-copy-out-of-dataset", ("POST", "api/contents/work", {}, {"copy_from": CSV}),
     (403, "cannot be copied", ("dataset.copy.blocked", CSV, "refused", API))),
    ("contents-copy-the-home-folder", ("POST", "api/contents/work", {}, {"copy_from": "/"}),
     (403, "cannot be copied", ("dataset.copy.blocked", "/", "refused", API))),
    ("contents-copy-the-home-folder-dot-dot",
     ("POST", "api/contents/work", {}, {"copy_from": "work/.."}),
     (403, "cannot be copied", ("dataset.copy.blocked", "work/..", "refused", API))),
    ("contents-copy-a-folder-holding-a-link",
     ("POST", "api/contents/shared", {}, {"copy_from": "work"}),
     (403, "cannot be copied", ("dataset.copy.blocked", "work", "refused", API))),
    ("contents-move-out-of-dataset",
     ("PATCH", f"api/contents/{CSV}", {}, {"path": "work/patients.csv"}),
     (403, "cannot be moved", ("dataset.move.blocked", CSV, "refused", API))),
    ("contents-text-dataset", ("GET", f"api/contents/{CSV}", {"format": "text"}, None),
     (200, "pseudo_id", ("dataset.read", CSV, "allowed", API))),
    ("contents-list-dataset", ("GET", "api/contents/dataset", {}, None),
     (200, "patients.parquet", None)),
    ("contents-base64-work", ("GET", "api/contents/work/plot.png", {"format": "base64"}, None),
     (200, "base64", None)),
    ("contents-copy-in-work", ("POST", "api/contents/work", {}, {"copy_from": "work/plot.png"}),
     (201, "plot-Copy1.png", None)),
]  # fmt: skip

MEASURED: list[str] = []


def write_project_folders(hub: RealHub) -> None:
    """The project's dataset and the researcher's own space, as the hub will mount them."""
    dataset = make_dataset(hub, "cohort-data", project=PROJECT, files={
        "patients.csv": b"pseudo_id,sex,age_band\na1b2,F,40-44\n",
        "patients.parquet": b"PAR1" + BINARY,
        "stays.parquet": STAYS,
    })  # fmt: skip
    work = hub.state_dir / "projects" / PROJECT / "users" / USER
    work.mkdir(parents=True)
    (work / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (work / "report.html").write_text("<h1>Report</h1>")
    (work / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + BINARY)
    (work / "link.parquet").symlink_to("../dataset/patients.parquet")
    for path in [work, *work.iterdir()]:
        os.lchown(path, 1000, 1000)
    assert dataset.is_dir()


def wait_until(check, timeout: float = 30):
    """Poll `check()` until it returns something truthy (returned) or time runs out (last value)."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return value


class Server:
    """The researcher's server: requests as her, and what the guard recorded."""

    def __init__(self, hub: RealHub, token: str, container, user: str = USER):
        self.hub, self.token, self.container, self.user = hub, token, container, user
        self.prefix = f"{hub.url}/user/{user}/{PROJECT}/"

    def request(self, method, path, query=None, body=None, headers=None, **kwargs):
        if body is not None:
            kwargs["json"] = body
        return requests.request(
            method, self.prefix + path, params=query or {}, timeout=30, allow_redirects=False,
            headers={"Authorization": f"token {self.token}", **(headers or {})}, **kwargs,
        )  # fmt: skip

    def logged_events(self) -> list[dict]:
        """The JSON event lines in the container's log."""
        lines = self.container.logs(stdout=False, stderr=True).decode().splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"action": ')]

    def hub_events(self) -> list[tuple[str, dict]]:
        """(server owner, event) for what the hub's audit record holds from this server."""
        recorded = audit_record.entries(self.hub, project=PROJECT)
        return [
            (entry["reported_by"].split(":", 1)[1].split("/")[0], entry)
            for entry in recorded
            if entry["reported_by"].startswith("server:")
        ]

    def delivered(self, event_id: str) -> list[str]:
        """Owners of the servers whose token the event with `event_id` reached the hub with."""
        return [owner for owner, e in self.hub_events() if e["id"] == event_id]

    @contextlib.contextmanager
    def hub_unreachable(self):
        """A real outage: the host firewall rejects this container's packets to the hub."""
        network = self.container.attrs["HostConfig"]["NetworkMode"]
        bridge = bridge_of(self.container.client.api.inspect_network(network))
        rule = ["-i", bridge, "-p", "tcp", "--dport", str(self.hub.hub_port), "-j", "REJECT",
                "--reject-with", "tcp-reset"]  # fmt: skip
        subprocess.run(["iptables", "-w", "-I", "HDS-INPUT", "1", *rule], check=True)
        try:
            yield
        finally:
            subprocess.run(["iptables", "-w", "-D", "HDS-INPUT", *rule], check=True)

    def exec(self, script: str) -> tuple[int, str]:
        code, output = self.container.exec_run(["python", "-c", script], user="1000:1000")
        return code, output.decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_client, request):
    root = tmp_path_factory.mktemp("data-guard")
    hub = RealHub(root / "hub", extra_config=f"c.Plans.plans = {PLANS!r}\n")
    (root / "hub").mkdir()
    hub.start()
    try:
        write_project_folders(hub)
        make_project(hub, PROJECT, [USER], dataset="cohort-data")
        token = hub.api("POST", f"/users/{USER}/tokens", json={"note": "data guard test"})
        assert token.status_code == 201, token.text
        started = hub.api("POST", f"/users/{USER}/servers/{PROJECT}")
        assert started.status_code in (201, 202), started.text
        hub.wait_for_server(USER, PROJECT)
        prefix = f"{docker_engine.RUN_PREFIX}-{USER}--{PROJECT}"
        [container] = docker_client.containers.list(filters={"name": prefix})
        yield Server(hub, token.json()["token"], container)
    finally:
        if MEASURED:
            capture = request.config.pluginmanager.get_plugin("capturemanager")
            with capture.global_and_fixture_disabled():
                print("\nData guard, measured against the real container:")
                print("| method | request | status | event |", *MEASURED, sep="\n")
        hub.api("DELETE", f"/users/{USER}/servers/{PROJECT}")
        hub.stop()


@pytest.mark.parametrize(("case_id", "request_", "expected"), CASES, ids=[c[0] for c in CASES])
def test_route_through_the_proxy(case_id, request_, expected, server):
    method, path, query, body = request_
    status, words, event = expected
    before = len(server.logged_events())

    response = server.request(method, path, query, body)

    if event:
        wait_until(lambda: len(server.logged_events()) > before, timeout=10)
    logged = server.logged_events()[before:]
    # A small read that is sent may first take a share of the daily browser budget (one at
    # most: a share is 64 KiB here); nothing refused takes one.
    shares = [e for e in logged if e["action"] == "browser.budget.reserved"]
    assert [(e["actor"], e["details"]["channel"]) for e in shares] in ([], [(USER, "files")])
    assert shares == [] or response.status_code == 200
    new = [e for e in logged if e["action"] != "browser.budget.reserved"]
    seen = f"{new[0]['action']} {new[0]['outcome']}" if new else "no event"
    shown = f"/{path}" + (f"?{urlencode(query)}" if query else "")
    sent_body = (
        f" `{json.dumps(body)}`" if body and "copy_from" in body or method == "PATCH" else ""
    )
    MEASURED.append(f"| {method} | `{shown}`{sent_body} | {response.status_code} | {seen} |")
    assert response.status_code == status, response.text[:500]
    assert words in response.text
    if event is None:
        assert new == []
        return
    action, target, outcome, route = event
    [sent] = new
    assert (sent["action"], sent["target"], sent["outcome"]) == (action, target, outcome)
    assert (sent["actor"], sent["project"]) == (USER, PROJECT)
    assert sent["details"]["route"] == route
    assert sent["details"]["method"] == method
    assert sent["source"] == "127.0.0.1", "the browser's address, from the proxy's X-Forwarded-For"
    owners = wait_until(lambda: server.delivered(sent["id"]))
    assert owners == [USER], "the event reached the hub, sent with the server's own token"
    [recorded] = [e for _, e in server.hub_events() if e["id"] == sent["id"]]
    for field in ("action", "actor", "project", "target", "outcome", "source", "details"):
        assert recorded[field] == sent[field], field


def test_reading_the_dataset_in_code_is_allowed(server):
    code, output = server.exec("print(open('/home/jovyan/dataset/patients.csv').read())")
    assert code == 0 and "pseudo_id" in output


def test_the_dataset_is_read_only_in_the_container(server):
    code, output = server.exec("open('/home/jovyan/dataset/new.csv', 'w')")
    assert code != 0 and "Read-only file system" in output


HOSTILE_LABCONFIG = f"""
import json, os
plugins = {LOCKED_PLUGINS!r}
folder = "/home/jovyan/.local/etc/jupyter/labconfig"
os.makedirs(folder, exist_ok=True)
with open(folder + "/page_config.json", "w") as f:
    json.dump({{"disabledExtensions": dict.fromkeys(plugins, False),
               "lockedExtensions": dict.fromkeys(plugins, False)}}, f)
"""

# Jupyter's config and data paths, as any Jupyter process in the container finds them, and
# which of their folders user code could write (or create: the nearest existing folder).
PATHS_PROBE = """
import json, os, subprocess
paths = json.loads(subprocess.run(["jupyter", "--paths", "--json"], capture_output=True,
                                  text=True, check=True).stdout)
def writable(folder):
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return os.access(folder, os.W_OK)
print(json.dumps({
    "paths": paths,
    "writable": [p for kind in ("config", "data") for p in paths[kind] if writable(p)],
    "control": [p for p in ("/home/jovyan/.local/etc/jupyter", "/tmp/jupyter/labconfig",
                            "/home/jovyan/work/.jupyter") if writable(p)],
}))
"""


def test_no_folder_user_code_can_write_is_on_jupyters_config_or_data_path(server):
    code, output = server.exec(PATHS_PROBE)
    assert code == 0, output
    result = json.loads(output.strip().splitlines()[-1])
    config, data = result["paths"]["config"], result["paths"]["data"]
    assert config[0] == "/opt/hds/etc/jupyter", "the image's config comes first"
    assert "/opt/hds/share/jupyter" in data
    for folder in ("/home/jovyan/.local/etc/jupyter", "/tmp/jupyter"):
        assert not any(p == folder or p.startswith(folder + "/") for p in config + data), folder
    assert result["writable"] == []
    # Shows the probe can fail: these folders, on no path, are writable by user code.
    assert len(result["control"]) == 3, result["control"]


def test_jupyterlab_keeps_its_exits_locked_despite_a_user_config(server):
    # The only places user code can write in $HOME are the ~/.local tmpfs and ~/work (and
    # ~/shared): write a page config in the user-site config folder while the server runs.
    code, output = server.exec(HOSTILE_LABCONFIG)
    assert code == 0, output
    page = server.request("GET", "lab")
    assert page.status_code == 200, page.text[:300]
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.S)  # fmt: skip
    config = json.loads(match.group(1))
    for plugin in LOCKED_PLUGINS:
        assert plugin in config["disabledExtensions"], plugin
        assert plugin in config["lockedExtensions"], plugin
    assert config["extensionManager"]["can_install"] is False


def test_the_plugin_manager_api_refuses_to_reenable_a_plugin(server):
    assert server.request("GET", "lab/api/plugins").json()["allLocked"] is True
    enable = {"cmd": "enable", "plugin_name": "@jupyterlab/docmanager-extension:download"}
    response = server.request("POST", "lab/api/plugins", body=enable)
    assert response.status_code == 500
    assert "locked" in response.text


def test_home_cannot_receive_a_user_config(server):
    response = server.request("PUT", "api/contents/jupyter_server_config.json",
                              body={"type": "file", "format": "text", "content": "{}"})  # fmt: skip
    # The home folder is on the container's read-only root: Jupyter cannot save there.
    assert response.status_code == 500, response.text[:300]
    assert "[Errno 30] Read-only file system" in response.json()["message"]
    code, output = server.exec("import os; os.makedirs('/home/jovyan/.config/jupyter')")
    assert code != 0
    assert "OSError: [Errno 30] Read-only file system: '/home/jovyan/.config'" in output, output


FIND_SERVER = """
import ctypes, json, os
def cmdline(pid):
    try:
        return open(f'/proc/{pid}/cmdline', 'rb').read()
    except OSError:
        return b''
pid = next(p for p in os.listdir('/proc') if p.isdigit() and b'jupyterhub-singleuser'
           in cmdline(p) and b'docker-init' not in cmdline(p))
"""


def test_user_code_cannot_trace_the_server_to_switch_the_guard_off(server):
    code, output = server.exec(
        FIND_SERVER
        + """
libc = ctypes.CDLL(None, use_errno=True)
attach = libc.ptrace(16, int(pid), 0, 0)  # PTRACE_ATTACH
errno = ctypes.get_errno()
if attach == 0:
    libc.ptrace(17, int(pid), 0, 0)  # PTRACE_DETACH: never leave the server stopped
try:
    open(f'/proc/{pid}/mem', 'rb'); mem = 'opened'
except PermissionError:
    mem = 'denied'
try:
    open(f'/proc/{pid}/environ', 'rb').read(); environ = 'read'
except PermissionError:
    environ = 'denied'
print(json.dumps({'attach': attach, 'errno': errno, 'mem': mem, 'environ': environ}))
"""
    )
    assert code == 0, output
    result = json.loads(output.strip().splitlines()[-1])
    assert result == {"attach": -1, "errno": 1, "mem": "denied", "environ": "denied"}


def test_control_an_ordinary_process_of_the_same_user_can_be_traced(server):
    """Shows the check above can fail: without the guard making the server non-dumpable, the same probe works."""
    code, output = server.exec("""
import ctypes, json, os, subprocess, time
child = subprocess.Popen(['sleep', '30'])
time.sleep(0.2)
environ = len(open(f'/proc/{child.pid}/environ', 'rb').read()) > 0
child.kill()
print(json.dumps({'environ': environ}))
""")
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1]) == {"environ": True}


def test_events_wait_in_the_spool_while_the_hub_is_unavailable_then_replay_in_order(server):
    expected = ["work/first.csv", "work/second.csv", "work/third.csv"]
    before = len(server.hub_events())
    with server.hub_unreachable():
        for name in ("first.csv", "second.csv", "third.csv"):
            assert server.request("GET", f"files/work/{name}").status_code == 403
        wait_until(lambda: spool_targets(server) == expected)
        assert spool_targets(server) == expected, "exactly the three refusals, in order"

    # The server retries with growing pauses (at most a minute); the first pauses are short.
    def replayed():  # the refusals (the browser budget reserves its shares in between)
        return [(e["action"], e["target"]) for _, e in server.hub_events()[before:]
                if e["action"] == "download.blocked"]  # fmt: skip

    wait_until(lambda: len(replayed()) >= 3, 90)
    assert replayed() == [("download.blocked", target) for target in expected]
    assert wait_until(lambda: spool_targets(server) == [], 10) is True


def spool_targets(server: Server) -> list[str]:
    """Targets of the events waiting in the server's spool (the budget's shares aside)."""
    code, output = server.exec("""
import json, os
path = '/tmp/hds-data-guard/events.jsonl'
lines = open(path).read().splitlines() if os.path.exists(path) else []
events = [json.loads(line) for line in lines]
print(json.dumps([e['target'] for e in events if not e['action'].startswith('browser.budget')]))
""")
    assert code == 0, output
    return json.loads(output.strip().splitlines()[-1])


# --- Attacks on the record (issue 19 items 2, 4 and 5) ------------------------------------

SPOOL = "/tmp/hds-data-guard/events.jsonl"
BREAK_SPOOL = f"""
import os, shutil
path = {SPOOL!r}
os.makedirs(os.path.dirname(path), exist_ok=True)
if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
elif os.path.lexists(path):
    os.unlink(path)
if KIND == "folder":
    os.mkdir(path)
else:
    os.mkfifo(path)
print(os.stat(path))
"""


@contextlib.contextmanager
def spool_replaced(server: Server, kind: str):
    """The kernel's uid (the researcher's code) puts a folder or a FIFO in the spool's place."""
    code, output = server.exec(f"KIND = {kind!r}\n" + BREAK_SPOOL)
    assert code == 0, output
    try:
        yield
    finally:
        code, output = server.exec(
            f"import os, shutil; p = {SPOOL!r}\n"
            "shutil.rmtree(p) if os.path.isdir(p) else os.path.lexists(p) and os.unlink(p)"
        )
        assert code == 0, output


def recorded_for(server: Server, target: str, timeout: float = 30) -> list[dict]:
    """The hub's entries about `target` from this server, once at least one is there."""

    def found():
        return [e for _, e in server.hub_events() if e["target"] == target]

    return wait_until(found, timeout) or []


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_refused_download_is_recorded_though_the_spool_was_replaced(server, kind):
    """Seen on the old code: the event was lost (a folder), or the server hung (a FIFO)."""
    target = f"work/after-{kind}.csv"
    with spool_replaced(server, kind):
        response = server.request("GET", f"files/{target}")
        assert response.status_code == 403
        [entry] = recorded_for(server, target)
    assert (entry["action"], entry["outcome"], entry["actor"]) == (
        "download.blocked",
        "refused",
        USER,
    )


def test_with_the_hub_away_and_the_spool_replaced_a_dataset_read_is_refused_and_reported(server):
    """Seen on the old code: the read was served (200) and its event lost."""

    def reads():
        return [(e["action"], e["details"]["reason"]) for e in recorded_for(server, CSV, 0)]

    before = reads()
    with spool_replaced(server, "folder"), server.hub_unreachable():
        read = server.request("GET", f"api/contents/{CSV}", {"format": "text"})
        download = server.request("GET", "files/work/while-away.csv")
    assert read.status_code == 503, read.text[:300]
    assert "pseudo_id" not in read.text
    assert download.status_code == 403
    # What the server kept in its memory reaches the hub once it is back (retries: up to 60 s).
    failure = recorded_for(server, SPOOL, timeout=90)
    assert [e["action"] for e in failure] == ["guard.spool.failed"]
    assert "not a regular file" in failure[0]["details"]["error"]
    assert [e["action"] for e in recorded_for(server, "work/while-away.csv")] == [
        "download.blocked"
    ]
    # The refused attempt is on the record; no read that did not happen is.
    assert reads()[len(before) :] == [
        ("dataset.read.blocked", "its audit event could not be recorded")
    ]


def test_the_browser_cannot_choose_its_address_in_the_record(server):
    """Seen on the old code: `X-Real-Ip: 10.9.9.9` through the proxy was recorded as the source."""
    target = "work/forged-source.csv"
    response = server.request("GET", f"files/{target}",
                              headers={"X-Real-Ip": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"})  # fmt: skip
    assert response.status_code == 403
    [entry] = recorded_for(server, target)
    assert entry["source"] == "127.0.0.1", "the address the hub's proxy saw (this test's)"


def test_the_container_log_is_bounded(server):
    """Seen on the old code: LogConfig empty, so a kernel printing in a loop fills the host."""
    server.container.reload()
    log_config = server.container.attrs["HostConfig"]["LogConfig"]
    assert log_config == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}


def test_events_are_numbered_per_server_process(server):
    recorded = [e["details"] for _, e in server.hub_events()]
    streams = {d.get("stream") for d in recorded}
    assert len(streams) == 1 and None not in streams, "one server process, one stream"
    serials = sorted(d["serial"] for d in recorded)
    assert serials == list(range(1, len(serials) + 1)), "every number arrived"


# --- The whole dataset through ~/work (issue 19 item 11) -----------------------------------


def entries_about(server: Server, target: str, action: str, timeout: float = 30) -> list[dict]:
    """The hub's entries with `action` about `target`, once at least one is there."""
    return wait_until(
        lambda: [e for e in recorded_for(server, target, 0) if e["action"] == action], timeout
    ) or []  # fmt: skip


def test_a_copy_of_the_dataset_made_in_a_terminal_is_refused_as_raw_bytes_and_recorded(server):
    """Seen on the old code: 200 with the whole file (162,728 bytes), and no entry naming it."""
    code, output = server.container.exec_run(
        ["cp", "/home/jovyan/dataset/stays.parquet", "/home/jovyan/work/copy.parquet"],
        user="1000:1000",
    )  # as from JupyterLab's terminal, as the researcher's uid
    assert code == 0, output

    response = server.request("GET", "api/contents/work/copy.parquet",
                              {"format": "base64", "content": "1"})  # fmt: skip

    assert response.status_code == 403, f"{response.status_code}: {len(response.content)} bytes"
    assert "dataset file dataset/stays.parquet" in response.json()["message"]
    [entry] = entries_about(server, "work/copy.parquet", "dataset.read.blocked")
    assert (entry["actor"], entry["outcome"]) == (USER, "refused")
    assert entry["details"]["copy_of"] == "dataset/stays.parquet"


def test_a_copy_of_the_dataset_made_by_a_kernel_is_refused_too(server):
    code, output = server.exec(
        "import shutil; shutil.copy('/home/jovyan/dataset/stays.parquet', "
        "'/home/jovyan/work/from-kernel.bin')"
    )
    assert code == 0, output
    response = server.request("GET", "api/contents/work/from-kernel.bin")  # no format: base64
    assert response.status_code == 403
    [entry] = entries_about(server, "work/from-kernel.bin", "dataset.read.blocked")
    assert entry["details"]["copy_of"] == "dataset/stays.parquet"


def test_a_large_read_is_recorded_with_its_size_and_sha256(server):
    data = random.Random(5).randbytes(1536 * 1024)  # noqa: S311 (above the recorded 1 MiB)
    code, output = server.exec(
        f"import random; open('/home/jovyan/work/model.bin', 'wb').write("
        f"random.Random(5).randbytes({len(data)}))"
    )
    assert code == 0, output
    response = server.request("GET", "api/contents/work/model.bin", {"format": "base64"})
    assert response.status_code == 200
    [entry] = entries_about(server, "work/model.bin", "file.read")
    assert (entry["actor"], entry["outcome"]) == (USER, "allowed")
    assert entry["details"]["size"] == len(data)
    assert entry["details"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["details"]["served"] == len(data)


# The budget, on a second member's own server: kernel outputs, then a restart.
BOB = "bob"
OUTPUTS = """
from IPython.display import display
for i in range({n}):
    display({{"text/plain": "x" * {size}}}, raw=True)
"""


def start_server_of(server: Server, user: str, docker_client) -> Server:
    hub = server.hub
    started = hub.api("POST", f"/users/{user}/servers/{PROJECT}")
    assert started.status_code in (201, 202), started.text
    hub.wait_for_server(user, PROJECT)
    prefix = f"{docker_engine.RUN_PREFIX}-{user}--{PROJECT}"
    [container] = docker_client.containers.list(filters={"name": prefix})
    token = hub.api("POST", f"/users/{user}/tokens", json={"note": "budget test"})
    assert token.status_code == 201, token.text
    return Server(hub, token.json()["token"], container, user=user)


@pytest.fixture(scope="module")
def bob(server, docker_client):
    """A second member of the project, with her own server (and her own budget)."""
    server.hub.api("POST", f"/users/{BOB}")
    added = server.hub.api("POST", f"/groups/{PROJECT}/users", json={"users": [BOB]})
    assert added.status_code == 200, added.text
    yield start_server_of(server, BOB, docker_client)
    server.hub.api("DELETE", f"/users/{BOB}/servers/{PROJECT}")


async def run_outputs(server: Server, code: str):
    """Start a kernel on `server`, run `code` through a real kernel websocket (as JupyterLab)."""
    kernel = server.request("POST", "api/kernels", body={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    url = server.prefix.replace("http://", "ws://") + f"api/kernels/{kernel.json()['id']}/channels"
    request = HTTPRequest(f"{url}?session_id=budget",
                          headers={"Authorization": f"token {server.token}"})  # fmt: skip
    connection = await websocket_connect(request, subprotocols=[PROTOCOL])
    channels = KernelChannels(connection, username=server.user)
    try:
        warm = await channels.execute("1 + 1", timeout=120)
        assert warm.replied, "the kernel answers through the proxy"
        return await channels.execute(code, timeout=120)
    finally:
        channels.close()
        server.request("DELETE", f"api/kernels/{kernel.json()['id']}")


def bob_entries(server: Server, action: str) -> list[dict]:
    return [e for _, e in server.hub_events() if e["actor"] == BOB and e["action"] == action]


def test_kernel_outputs_past_the_daily_budget_are_not_sent_and_that_is_recorded_once(bob):
    size, n = 64 * 1024, 64  # 4 MiB of outputs, for a budget of 3 MiB
    run = asyncio.run(run_outputs(bob, OUTPUTS.format(n=n, size=size)))

    assert run.replied and run.idle, "the notebook still hears that the cell finished"
    shown = run.display_bytes()
    assert BUDGET - 2 * size < shown < BUDGET, shown
    note = run.stream_text("stderr")
    assert "daily limit" in note and "Request release" in note
    [exceeded] = wait_until(lambda: bob_entries(bob, "browser.budget.exceeded"))
    assert (exceeded["outcome"], exceeded["details"]["channel"]) == ("refused", "kernel outputs")
    # Every byte that reached the browser was covered by the record before it was sent.
    shares = bob_entries(bob, "browser.budget.reserved")
    note_message = 4096  # the note itself is the guard's, not counted
    assert sum(e["details"]["served"] for e in shares) >= run.received_bytes - note_message
    # Files too: the budget is the person's, whatever the channel.
    response = bob.request("GET", "api/contents/work", {"content": "1"})
    assert response.status_code == 200, "listings are not file contents"
    # Larger than what is left (less than one 64 KiB output).
    code, output = bob.exec("open('/home/jovyan/work/notes.txt', 'w').write('x' * 70_000)")
    assert code == 0, output
    refused = bob.request("GET", "api/contents/work/notes.txt", {"format": "text"})
    assert refused.status_code == 403
    assert "Request release" in refused.json()["message"]
    assert len(bob_entries(bob, "browser.budget.exceeded")) == 1, "once a day, not per refusal"


async def terminal_output(server: Server, command: str, quiet: float = 3.0) -> str:
    """Run `command` in a JupyterLab terminal through the proxy; what the browser receives."""
    created = server.request("POST", "api/terminals", body={})
    assert created.status_code == 200, created.text
    name = created.json()["name"]
    url = server.prefix.replace("http://", "ws://") + f"terminals/websocket/{name}"
    request = HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
    connection = await websocket_connect(request)
    connection.write_message(json.dumps(["stdin", command + "\r"]))
    text = []
    try:
        while (raw := await asyncio.wait_for(connection.read_message(), quiet)) is not None:
            kind, *rest = json.loads(raw)
            text += [rest[0]] if kind == "stdout" else []
    except TimeoutError:
        pass
    finally:
        connection.close()
        server.request("DELETE", f"api/terminals/{name}")
    return "".join(text)


def test_past_the_budget_a_terminal_does_not_send_the_file_either(bob):
    """`cat` in a terminal is the other way to put a file on screen: it shares the budget."""
    code, output = bob.exec("open('/home/jovyan/work/big.csv', 'w').write('y' * 500_000)")
    assert code == 0, output
    shown = asyncio.run(terminal_output(bob, "cat ~/work/big.csv"))
    assert shown.count("y") < 70_000, "what was left of the day (under one 64 KiB output)"
    assert "daily limit" in shown and "Request release" in shown
    assert len(bob_entries(bob, "browser.budget.exceeded")) == 1, "still once a day"


def test_the_days_count_survives_a_restart_of_the_server(bob, server, docker_client):
    """Restarting gives a new container; the hub hands it what the record counted today."""
    hub = bob.hub
    assert hub.api("DELETE", f"/users/{BOB}/servers/{PROJECT}").status_code in (202, 204)
    hub.wait_for_server(BOB, PROJECT, ready=False)
    again = start_server_of(bob, BOB, docker_client)
    assert again.container.id != bob.container.id

    env = dict(v.split("=", 1) for v in again.container.attrs["Config"]["Env"])
    assert env["HDS_BROWSER_BYTES_DAY"] == str(BUDGET)
    served = json.loads(env["HDS_BROWSER_SERVED"])
    assert served["served"][BOB] >= BUDGET - 64 * 1024
    assert served["exceeded"] == [BOB]

    response = again.request("GET", "api/contents/work/notes.txt", {"format": "text"})
    assert response.status_code == 403, "the day goes on counting after the restart"
    time.sleep(2)  # an event would have reached the hub by now
    assert len(bob_entries(again, "browser.budget.exceeded")) == 1
    # Alice's day is her own.
    assert server.request("GET", "api/contents/work/report.html").status_code == 200
