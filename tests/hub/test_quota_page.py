"""The usage page through the real hub's login: the hosting team reads and exports, nobody else."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest
import requests

from support.hub import RealHub, browser_login

pytestmark = pytest.mark.hub

G = 1024**3
PUBLIC = {"plan": "public", "price_eur_month": 150, "cpu": 2, "cpu_hours_month": 200,
          "storage": 20 * G}  # fmt: skip
LEDGER = [
    {"time": "2026-05-04T08:00:00Z", "kind": "start", "project": "cohort", "server": "cohort",
     "user": "ann", **PUBLIC, "members": 2, "storage_used": G},
    {"time": "2026-05-04T11:00:00Z", "kind": "stop", "project": "cohort", "server": "cohort",
     "user": "ann", "reason": "stopped", "storage_used": 3 * G},
    {"time": "2026-05-05T00:00:00Z", "kind": "project", "project": "=cmd|x", **PUBLIC,
     "members": 1, "storage_used": 0},
    {"time": "2026-05-05T00:00:00Z", "kind": "project", "project": "<i>x", **PUBLIC,
     "members": 1, "storage_used": 0},
]  # fmt: skip


EXTRA_CONFIG = """
c.JupyterHub.authenticator_class = "dummy"
# Someone let into the service who does not hold the usage scope: the service itself refuses.
c.JupyterHub.load_roles.append(
    {"name": "peek", "scopes": ["access:services!service=usage"], "users": ["peek"]}
)
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    state = tmp_path_factory.mktemp("usage-page")
    (state / "usage").mkdir()
    (state / "usage" / "ledger-2026-05.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in LEDGER)
    )
    hub = RealHub(state, extra_config=EXTRA_CONFIG).start()
    for user in ("ops", "res", "peek"):
        hub.api("POST", f"/users/{user}")
    assert hub.api("POST", "/groups/hds-admins/users", json={"users": ["ops"]}).ok
    yield hub
    hub.stop()


def page(hub, session, path):
    return session.get(f"{hub.url}/services/usage/{path}", timeout=30)


def test_the_hosting_team_sees_the_months_invoice_lines(hub):
    response = page(hub, browser_login(hub, "ops"), "?month=2026-05")
    assert response.status_code == 200, response.text
    text = response.text
    assert "<h1>2026-05</h1>" in text and "cohort" in text
    assert "6.00 / 200" in text  # 3 h on 2 CPUs, of 200 included
    assert "3 GiB / 20 GiB" in text and "450.00 €" in text  # three projects at 150
    assert "&lt;i&gt;x" in text and "<i>x" not in text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_summary_exports_as_csv_without_formulas(hub):
    response = page(hub, browser_login(hub, "ops"), "summary.csv?month=2026-05")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="usage-2026-05.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["project"], r["cpu_hours"], r["amount_due_eur"]) for r in rows] == [
        ("<i>x", "0.0", "150.0"), ("'=cmd|x", "0.0", "150.0"), ("cohort", "6.0", "150.0"),
    ]  # fmt: skip
    sessions = page(hub, browser_login(hub, "ops"), "sessions.csv?month=2026-05&project=cohort")
    assert sessions.text.splitlines()[1].startswith("cohort,ann,public,2.0,")


def test_a_researcher_is_refused_by_the_hub(hub):
    response = page(hub, browser_login(hub, "res"), "?month=2026-05")
    assert response.status_code == 403
    assert "permission to access JupyterHub service usage" in response.text
    assert "cohort" not in response.text


def test_access_to_the_service_without_the_usage_scope_is_refused_by_it(hub):
    response = page(hub, browser_login(hub, "peek"), "summary.csv?month=2026-05")
    assert response.status_code == 403
    assert "for the hosting team" in response.text and "cohort" not in response.text


def test_without_a_login_there_is_nothing_to_see(hub):
    response = requests.get(
        f"{hub.url}/services/usage/summary.csv?month=2026-05", timeout=30, allow_redirects=False
    )
    # Sent to the hub's login (through its OAuth), the page itself never served.
    assert response.status_code == 302 and "cohort" not in response.text
    assert response.headers["Location"].startswith(
        "/hub/api/oauth2/authorize?client_id=service-usage"
    )


def test_a_bad_month_says_how_to_write_one(hub):
    response = page(hub, browser_login(hub, "ops"), "?month=May")
    assert response.status_code == 400 and "write the month as YYYY-MM" in response.text


def test_the_hub_publishes_its_settings_for_its_services_root_only(hub):
    path = hub.state_dir / "hds-settings.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    published = json.loads(path.read_text())
    assert published["Plans"]["plans"]["public"]["cpu_hours_month"] == 200
    assert published["Deployment"]["state_dir"] == str(hub.state_dir)
    assert "JupyterHub" not in published and "HDSOIDCAuthenticator" not in published
