"""`hds db migrate`: a working SQLite hub moved to PostgreSQL keeps everything, servers included."""

from __future__ import annotations

import argparse

import pytest
import requests

from jupyter_hds import database
from support.hub import RealHub, make_dataset, make_project
from support.postgres import postgres  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker

EXTRA_CONFIG = """
c.JupyterHub.cleanup_servers = False  # the server runs on while the hub moves
c.SharingPolicy.require_origin_isolation = False
"""


def hds_db_migrate(state_dir, to: str) -> int:
    """`hds --state-dir STATE db migrate --to URL`, through the command's own parser."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-dir")
    database.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--state-dir", str(state_dir), "db", "migrate", "--to", to])
    return args.func(args)


def snapshot(hub, tokens):
    """What people and admins see of the hub, through its API."""
    users = {
        u["name"]: (sorted(u["groups"]), sorted(u["roles"]), u["admin"])
        for u in hub.api("GET", "/users").json()
    }
    groups = {g["name"]: g["properties"] for g in hub.api("GET", "/groups").json()}
    shared = hub.api("GET", "/hds/shared-with-me", token=tokens["ben"])
    assert shared.status_code == 200, shared.text
    assert users["ann"][0] == ["keep"] and groups["keep"]["description"] == "moved"
    return users, groups, shared.json()


def test_a_sqlite_hub_migrated_to_postgresql_keeps_everything(tmp_path, docker_client, postgres):  # noqa: F811
    hub = RealHub(tmp_path, extra_config=EXTRA_CONFIG).start()
    try:
        make_dataset(hub, "cohort", project="keep")
        make_project(hub, "keep", ["ann", "ben"], dataset="cohort", description="moved")
        tokens = {
            user: hub.api("POST", f"/users/{user}/tokens", json={"note": "t"}).json()["token"]
            for user in ("ann", "ben")
        }
        assert hub.api("POST", "/users/ann/servers/keep", token=tokens["ann"]).ok
        hub.wait_for_server("ann", "keep")
        granted = hub.api("POST", "/hds/shares/ann/keep", token=tokens["ann"], json={"user": "ben"})
        assert granted.status_code == 200, granted.text
        before = snapshot(hub, tokens)
        hub.stop(unmount=False)

        target = postgres.new_database("migrated")
        assert hds_db_migrate(tmp_path, target) == 0
        hub.db_url = target
        hub.start()

        assert snapshot(hub, tokens) == before
        assert hub.wait_for_server("ann", "keep", timeout=30)["ready"]
        status = requests.get(
            f"{hub.url}/user/ann/keep/api/status",
            headers={"Authorization": f"token {tokens['ann']}"},
            timeout=30,
        )
        assert status.status_code == 200, status.text
        # ben reaches it through the share, as before the move.
        shared = requests.get(
            f"{hub.url}/user/ann/keep/api/status",
            headers={"Authorization": f"token {tokens['ben']}"},
            timeout=30,
        )
        assert shared.status_code == 200, shared.text
        # New rows take fresh ids on PostgreSQL.
        assert hub.api("POST", "/users/cid").status_code == 201
        assert hub.api("POST", "/groups/keep/users", json={"users": ["cid"]}).ok
        assert hub.api("DELETE", "/users/ann/servers/keep").status_code in (202, 204)
        hub.wait_for_server("ann", "keep", ready=False)
    finally:
        hub.stop()
