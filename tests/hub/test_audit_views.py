"""What auditors read is on the record, before they read it: views and exports (issue 19 item 8)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from support.audit_record import EMITTING_LOGIN, wait_for
from support.hub import RealHub, browser_login

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = RealHub(tmp_path_factory.mktemp("audit-views"), extra_config=EMITTING_LOGIN).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def auditor(hub):
    return browser_login(hub, "dpo")


def test_a_view_is_recorded_with_its_filters_before_it_is_shown(hub, auditor):
    """Read on the old code: viewing and filtering the record recorded nothing."""
    response = auditor.get(f"{hub.url}/services/audit/", timeout=60,
                           params={"person": "dpo", "action": "audit.view"})  # fmt: skip
    assert response.status_code == 200, response.text[:500]
    rows = re.findall(r'<tr class="\w+">\s*<td>(\d+)</td>', response.text)
    assert len(rows) == 1, "the page shows its own view: it was recorded first"
    (view,) = wait_for(hub, action="audit.view", person="dpo")
    assert view["details"]["filters"] == {"person": "dpo", "action": "audit.view"}
    assert (view["outcome"], view["reported_by"], view["source"]) == (
        "allowed",
        "audit",
        "127.0.0.1",
    )


def test_an_export_is_recorded_before_its_first_row(hub, auditor):
    """Read on the old code: an export was recorded after its last row, so one cut off left no
    trace; here the export's own entry is among the rows it sends."""
    response = auditor.get(f"{hub.url}/services/audit/export.csv", timeout=60,
                           params={"action": "audit.export"})  # fmt: skip
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["action"], r["actor"], r["outcome"]) for r in rows] == [
        ("audit.export", "dpo", "allowed")
    ]
    assert '"filters":{"action":"audit.export"}' in rows[0]["details"]


def test_an_export_cut_off_after_its_headers_is_on_the_record(hub, auditor):
    with auditor.get(f"{hub.url}/services/audit/export.csv", timeout=60, stream=True,
                     params={"person": "alice"}) as response:  # fmt: skip
        assert response.status_code == 200  # headers only: the client goes away
    exports = wait_for(hub, action="audit.export", person="dpo",
                       where=lambda e: e["details"]["filters"] == {"person": "alice"})  # fmt: skip
    assert len(exports) == 1 and exports[0]["details"]["rows"] >= 0


def test_x_real_ip_does_not_choose_the_auditors_address(hub, auditor):
    response = auditor.get(f"{hub.url}/services/audit/", timeout=60,
                           params={"project": "forged"},
                           headers={"X-Real-Ip": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"})  # fmt: skip
    assert response.status_code == 200
    (view,) = wait_for(hub, action="audit.view",
                       where=lambda e: e["details"]["filters"] == {"project": "forged"})  # fmt: skip
    assert view["source"] == "127.0.0.1"
