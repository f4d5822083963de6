"""Project isolation, tried for real: two projects, three users, real containers on the real engine."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from datetime import date, timedelta

import pytest
import requests

from support.hub import RealHub, browser_login, make_dataset, make_project

pytestmark = pytest.mark.docker

PROBE = r"""
import json, os, socket, sys
def reach(host, port):
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        return "open"
    except OSError as error:
        return type(error).__name__
def resolve(name):
    try:
        return socket.gethostbyname(name)
    except OSError as error:
        return type(error).__name__
print(json.dumps({a: (reach(*a.split(":")) if ":" in a else resolve(a)) for a in sys.argv[1:]}))
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client):
    hub = RealHub(
        tmp_path_factory.mktemp("projects"),
        extra_config='c.JupyterHub.authenticator_class = "dummy"',
    ).start()
    make_dataset(hub, "alpha-data", {"cohort.csv": b"id,age\n1,40\n"}, project="alpha")
    make_dataset(hub, "beta-data", {"secret-beta.csv": b"id,age\n9,90\n"}, project="beta")
    make_project(hub, "alpha", ["alice", "carol"], dataset="alpha-data")
    make_project(hub, "beta", ["bob"], dataset="beta-data")
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def tokens(hub):
    made = {}
    for user in ("alice", "bob", "carol"):
        response = hub.api("POST", f"/users/{user}/tokens", json={"note": "test"})
        assert response.status_code == 201, response.text
        made[user] = response.json()["token"]
    return made


# What carol sends with her start request: a spawner that took it would run another image,
# without limits, with the host's root mounted.
HOSTILE_OPTIONS = {
    "image": "jupyter-hds/base:bookworm",
    "mem_limit": "64G",
    "cpu_limit": 64,
    "volumes": {"/": "/host"},
}


@pytest.fixture(scope="module")
def running(hub, tokens):
    """alice and carol in alpha, bob in beta: started by each user with their own token."""
    for user, project in (("alice", "alpha"), ("carol", "alpha"), ("bob", "beta")):
        options = HOSTILE_OPTIONS if user == "carol" else None
        response = hub.api(
            "POST", f"/users/{user}/servers/{project}", token=tokens[user], json=options
        )
        assert response.status_code in (201, 202), response.text
    for user, project in (("alice", "alpha"), ("carol", "alpha"), ("bob", "beta")):
        hub.wait_for_server(user, project)
    return hub


def container(docker_client, hub, user, project):
    from support.docker_engine import RUN_PREFIX

    return docker_client.containers.get(f"{RUN_PREFIX}-{user}--{project}")


def run_in(box, *command: str) -> tuple[int, str]:
    code, output = box.exec_run(list(command), user="1000:1000")
    return code, output.decode(errors="replace")


def probe(box, *targets: str) -> dict[str, str]:
    code, output = run_in(box, "python3", "-c", PROBE, *targets)
    assert code == 0, output
    return json.loads(output)


# --- spawning and reaching servers across boundaries ---------------------------------------


def test_user_cannot_start_a_server_of_a_project_they_are_not_in(hub, tokens, docker_client):
    response = hub.api("POST", "/users/alice/servers/beta", token=tokens["alice"])
    assert response.status_code == 403, response.text
    assert "not a member" in response.json()["message"]
    assert not [
        c for c in docker_client.containers.list(all=True) if c.name.endswith("alice--beta")
    ]


def test_user_cannot_start_a_server_for_another_user(hub, tokens, docker_client):
    response = hub.api("POST", "/users/bob/servers/alpha", token=tokens["alice"])
    # The hub does not even say whether bob has such a server.
    assert response.status_code == 404, response.text
    assert response.json()["message"] == "No access to resources or resources not found"
    assert not [c for c in docker_client.containers.list(all=True) if c.name.endswith("bob--alpha")]


def test_default_server_without_project_is_refused(hub, tokens):
    response = hub.api("POST", "/users/alice/server", token=tokens["alice"])
    assert response.status_code == 403, response.text
    assert "belongs to a project" in response.json()["message"]


@pytest.mark.parametrize(
    "visitor, owner, project",
    [("alice", "bob", "beta"), ("bob", "alice", "alpha"), ("carol", "alice", "alpha")],
    ids=["other-project", "other-project-reverse", "same-project-other-user"],
)
def test_user_cannot_reach_another_users_server_through_the_proxy(
    running, tokens, visitor, owner, project
):
    url = f"{running.url}/user/{owner}/{project}/api/contents/dataset"
    response = requests.get(
        url,
        headers={"Authorization": f"token {tokens[visitor]}"},
        timeout=30,
        allow_redirects=False,
    )
    # The owner's server itself refuses the visitor's token (it reached the server: it runs).
    assert response.status_code == 403, response.text
    assert "cohort.csv" not in response.text and "secret-beta" not in response.text
    own = requests.get(url, headers={"Authorization": f"token {tokens[owner]}"}, timeout=30)
    assert own.status_code == 200, own.text
    assert {f["name"] for f in own.json()["content"]} == {
        "cohort.csv" if project == "alpha" else "secret-beta.csv", "manifest.json",
    }  # fmt: skip


def test_hosting_admin_cannot_open_a_researchers_server(running):
    running.api("POST", "/users/ops")
    assert running.api("POST", "/groups/hds-admins/users", json={"users": ["ops"]}).ok
    token = running.api("POST", "/users/ops/tokens", json={"note": "t"}).json()["token"]
    # The hosting team onboards projects...
    assert running.api("GET", "/groups/alpha", token=token).ok
    # ...but never sees into a researcher's server.
    response = requests.get(
        f"{running.url}/user/alice/alpha/api/contents/dataset",
        headers={"Authorization": f"token {token}"}, timeout=30, allow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 403, response.text
    assert "cohort.csv" not in response.text
    # Nor through a token made for the researcher, which would carry her access.
    minted = running.api("POST", "/users/alice/tokens", json={"note": "x"}, token=token)
    assert minted.status_code == 403, minted.text
    assert not running.api("GET", "/users/alice/tokens", token=token).ok
    # Their own tokens (what `hds project` uses) they still make.
    own = running.api("POST", "/users/ops/tokens", json={"note": "cli"}, token=token)
    assert own.status_code == 201, own.text


def test_home_page_lists_only_the_users_projects(running):
    page = browser_login(running, "alice").get(f"{running.url}/hub/home", timeout=30)
    assert page.status_code == 200, page.text
    assert 'data-server-name="alpha"' in page.text
    assert "beta" not in page.text


# --- inside a container ----------------------------------------------------------------


def test_container_sees_its_dataset_read_only_and_nothing_of_other_projects(running, docker_client):
    box = container(docker_client, running, "alice", "alpha")
    code, listing = run_in(box, "ls", "/home/jovyan/dataset")
    assert code == 0 and "cohort.csv" in listing
    code, output = run_in(box, "touch", "/home/jovyan/dataset/new")
    assert code != 0 and "Read-only file system" in output
    code, mounts = run_in(box, "cat", "/proc/self/mountinfo")
    assert "beta" not in mounts and "docker.sock" not in mounts
    code, found = run_in(
        box, "sh", "-c", "find / -xdev -name 'secret-beta*' 2>/dev/null; ls /var/run"
    )
    assert "secret-beta" not in found and "docker.sock" not in found
    for writable in ("/home/jovyan/work/x", "/home/jovyan/shared/x", "/tmp/x"):
        assert run_in(box, "touch", writable)[0] == 0, writable
    for read_only in ("/home/jovyan/x", "/etc/x", "/usr/x", "/opt/hds/x"):
        assert run_in(box, "touch", read_only)[0] != 0, read_only


def test_container_is_unprivileged_and_limited(running, docker_client):
    box = container(docker_client, running, "alice", "alpha")
    code, status = run_in(box, "cat", "/proc/self/status")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[0] == "1000"
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["CapBnd"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    host = box.attrs["HostConfig"]
    assert host["PidsLimit"] == 512
    assert host["Memory"] == 4 * 1024**3  # public plan
    assert host["CpuQuota"] == 2 * host["CpuPeriod"]  # public plan: 2 CPUs
    assert host["ReadonlyRootfs"] is True
    assert not host.get("Binds")
    state = running.state_dir
    assert {(m["Source"], m["Destination"], m["RW"]) for m in box.attrs["Mounts"]} == {
        (f"{state}/datasets/alpha-data/1", "/home/jovyan/dataset", False),
        (f"{state}/projects/alpha/shared", "/home/jovyan/shared", True),
        (f"{state}/projects/alpha/users/alice", "/home/jovyan/work", True),
        (f"{state}/container-resolv.conf", "/etc/resolv.conf", False),  # no resolver
    }  # fmt: skip


def test_options_sent_with_a_start_request_are_ignored(running, docker_client):
    carol = container(docker_client, running, "carol", "alpha")
    alice = container(docker_client, running, "alice", "alpha")
    assert carol.attrs["Config"]["Image"] == alice.attrs["Config"]["Image"]
    assert carol.attrs["Config"]["Image"] != HOSTILE_OPTIONS["image"]
    host = carol.attrs["HostConfig"]
    assert host["Memory"] == 4 * 1024**3 and host["CpuQuota"] == 2 * host["CpuPeriod"]
    assert "/host" not in {m["Destination"] for m in carol.attrs["Mounts"]}


@pytest.mark.parametrize(
    "case_id, command",
    [
        ("mount", ["mount", "-t", "tmpfs", "none", "/tmp"]),
        ("user-namespace", ["unshare", "--user", "--map-root-user", "id"]),
        ("chown-root-file", ["chown", "1000", "/etc/passwd"]),
        (
            "raw-socket",
            ["python3", "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"],
        ),
        ("setuid-su", ["su", "-c", "id", "root"]),
        ("write-cgroup", ["sh", "-c", "echo max > /sys/fs/cgroup/pids/pids.max"]),
    ],
)
def test_no_privileged_operation_succeeds(running, docker_client, case_id, command):
    box = container(docker_client, running, "alice", "alpha")
    code, output = run_in(box, *command)
    assert code != 0, f"{case_id} succeeded: {output}"


def test_network_reaches_the_hub_only(running, docker_client):
    alice = container(docker_client, running, "alice", "alpha")
    bob = container(docker_client, running, "bob", "beta")
    carol = container(docker_client, running, "carol", "alpha")
    gateway = next(iter(alice.attrs["NetworkSettings"]["Networks"].values()))["Gateway"]
    bob_ip = next(iter(bob.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    carol_ip = next(iter(carol.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    with host_listener() as host_port:
        seen = probe(
            alice,
            f"{gateway}:{running.hub_port}",  # the hub API: must be open
            f"{gateway}:{host_port}",  # any other service on the host
            f"{gateway}:{running.port}",  # the public proxy port
            f"{bob_ip}:8888",  # another project's server
            "1.1.1.1:443", "8.8.8.8:53", "151.101.0.223:443",  # the internet
            "pypi.org", "deb.debian.org",  # names outside
        )  # fmt: skip
    assert seen.pop(f"{gateway}:{running.hub_port}") == "open"
    assert all(outcome != "open" and not outcome[0].isdigit() for outcome in seen.values()), seen
    # Members of one project share a network: their servers may see each other.
    assert probe(alice, f"{carol_ip}:8888")[f"{carol_ip}:8888"] == "open"


class host_listener:
    """A TCP server on all host addresses, standing for any service a host may run."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen()
        threading.Thread(target=self._accept, daemon=True).start()
        return self.sock.getsockname()[1]

    def _accept(self):
        while True:
            try:
                self.sock.accept()[0].close()
            except OSError:
                return

    def __exit__(self, *exc):
        self.sock.close()


# --- bad properties never start a container --------------------------------------------


@pytest.mark.parametrize(
    "case_id, properties, message",
    [
        (
            "unknown-plan",
            {"plan": "gold"},
            "plan 'gold' is not defined; defined plans: private, public",
        ),
        ("dataset-path", {"dataset": "../etc"}, "cannot name a dataset"),
        ("dataset-absolute", {"dataset": "/etc"}, "cannot name a dataset"),
        ("dataset-missing", {"dataset": "nowhere"}, "there is no dataset 'nowhere'"),
        ("other-projects-dataset", {"dataset": "alpha-data"}, "was imported for project 'alpha'"),
        ("bad-expiry", {"expires": "next year"}, "YYYY-MM-DD"),
        ("unknown-image", {"image": "ubuntu:latest"}, "allowed image name"),
    ],
)
def test_bad_properties_are_refused_when_written(hub, docker_client, case_id, properties, message):
    project = f"bad-{case_id}"
    make_project(hub, project, ["dave"])
    good = hub.api("GET", f"/groups/{project}").json()["properties"]
    response = hub.api("PUT", f"/groups/{project}/properties", json={**good, **properties})
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert hub.api("GET", f"/groups/{project}").json()["properties"] == good


@pytest.mark.parametrize(
    "case_id, message",
    [
        ("dataset-removed", "there is no dataset"),
        ("ended", "ended on"),
        ("no-dataset-yet", "set its `dataset` property"),  # written while its import is due
    ],
)
def test_projects_that_became_invalid_never_start_a_container(hub, docker_client, case_id, message):
    project, dataset = f"was-{case_id}", f"was-{case_id}-data"
    folder = make_dataset(hub, dataset, project=project)
    make_project(hub, project, ["dave"], dataset=dataset)
    if case_id == "dataset-removed":
        shutil.rmtree(folder)
    elif case_id == "no-dataset-yet":
        assert hub.api("PUT", f"/groups/{project}/properties", json={"plan": "public"}).ok
    else:
        yesterday = (date.today() - timedelta(days=1)).isoformat()
        properties = {"plan": "public", "dataset": dataset, "expires": yesterday}
        assert hub.api("PUT", f"/groups/{project}/properties", json=properties).ok
    response = hub.api("POST", f"/users/dave/servers/{project}")
    assert response.status_code == 403, response.text
    assert message in response.json()["message"]
    assert not [
        c for c in docker_client.containers.list(all=True) if c.name.endswith(f"--{project}")
    ]


# --- leaving a project ----------------------------------------------------------------
# Each test below starts the server it stops, so the servers of `running` stay as they are.
# How soon the servers stop: tests/benchmarks/bench_stops.py.


def started(hub, user, project):
    """`user`'s server for `project`, started with the user's own token."""
    token = hub.api("POST", f"/users/{user}/tokens", json={"note": "t"}).json()["token"]
    response = hub.api("POST", f"/users/{user}/servers/{project}", token=token)
    assert response.status_code in (201, 202), response.text
    hub.wait_for_server(user, project)
    return token


def test_removing_a_member_stops_their_server(running, docker_client):
    make_project(running, "alpha", ["erin"], dataset="alpha-data")  # adds erin to alpha
    token = started(running, "erin", "alpha")
    response = running.api("DELETE", "/groups/alpha/users", json={"users": ["erin"]})
    assert response.ok, response.text
    running.wait_for_server("erin", "alpha", ready=False)
    assert not [
        c for c in docker_client.containers.list(all=True) if c.name.endswith("erin--alpha")
    ]
    assert "stopping erin/alpha: erin is not a member of project alpha" in running.log(1000)
    again = running.api("POST", "/users/erin/servers/alpha", token=token)
    assert again.status_code == 403 and "not a member" in again.json()["message"]
    # alice and carol, still members, keep their servers.
    servers = {u: running.api("GET", f"/users/{u}").json()["servers"] for u in ("alice", "carol")}
    assert servers["alice"]["alpha"]["ready"] and servers["carol"]["alpha"]["ready"]


def test_expiry_passing_stops_the_projects_servers(running, docker_client):
    make_dataset(running, "delta-data", project="delta")
    make_project(running, "delta", ["dan", "eli"], dataset="delta-data")
    started(running, "dan", "delta")
    started(running, "eli", "delta")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    properties = running.api("GET", "/groups/delta").json()["properties"]
    response = running.api(
        "PUT", "/groups/delta/properties", json={**properties, "expires": yesterday}
    )
    assert response.ok, response.text
    for user in ("dan", "eli"):
        running.wait_for_server(user, "delta", ready=False)
        assert f"stopping {user}/delta: project delta ended on {yesterday}" in running.log(1000)
    assert not [c for c in docker_client.containers.list(all=True) if c.name.endswith("--delta")]
    # Other projects' servers run on.
    assert running.api("GET", "/users/bob").json()["servers"]["beta"]["ready"]
