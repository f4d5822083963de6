"""The hosting team's projects overview and "New project" form, through the real hub."""

from __future__ import annotations

import re

import pytest

from support.audit_record import EMITTING_LOGIN, as_admin_panel, wait_for
from support.hub import RealHub, browser_login, make_dataset, make_project

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = RealHub(tmp_path_factory.mktemp("overview"), extra_config=EMITTING_LOGIN).start()
    make_dataset(hub, "cohort-data", project="zeta")  # each project's extract, with its key
    make_dataset(hub, "second-data", project="alpha")
    make_project(hub, "zeta", ["ann", "ben"], dataset="cohort-data", expires="2030-06-30")
    make_project(hub, "alpha", ["cid"], plan="private", dataset="second-data")
    yield hub
    hub.stop()


def form(session, hub, **values):
    session.get(f"{hub.url}/hub/hds/projects/new", timeout=30)  # as a browser would first
    data = {"_xsrf": session.cookies.get("_xsrf", path="/hub/"), **values}
    return session.post(f"{hub.url}/hub/hds/projects/new", data=data, timeout=30,
                        allow_redirects=False)  # fmt: skip


def rows(html: str) -> list[str]:
    return re.findall(r'data-project="([^"]+)"', html)


def test_the_overview_shows_every_project_at_a_glance(hub):
    page = browser_login(hub, "root").get(f"{hub.url}/hub/hds/projects", timeout=30)
    assert page.status_code == 200, page.text
    assert rows(page.text) == ["alpha", "zeta"]
    zeta = page.text[page.text.index('data-project="zeta"') :]
    assert re.search(r'class="members">\s*2 / 10\s*<', zeta)
    assert re.search(r'class="running">\s*0\s*<', zeta)
    assert "2030-06-30" in zeta and "cohort-data" in zeta
    assert 'id="nav-projects"' in page.text  # linked from the hub's (and admin panel's) nav


def test_the_overview_sorts_by_a_column_both_ways(hub):
    session = browser_login(hub, "root")
    ascending = session.get(f"{hub.url}/hub/hds/projects?sort=members&order=asc", timeout=30)
    descending = session.get(f"{hub.url}/hub/hds/projects?sort=members&order=desc", timeout=30)
    assert rows(ascending.text) == ["alpha", "zeta"]
    assert rows(descending.text) == ["zeta", "alpha"]


def test_a_researcher_sees_no_overview_and_no_link(hub):
    session = browser_login(hub, "ann")
    page = session.get(f"{hub.url}/hub/hds/projects", timeout=30)
    assert page.status_code == 403 and "for the hosting team" in page.text
    assert "zeta" not in page.text
    assert 'id="nav-projects"' not in session.get(f"{hub.url}/hub/home", timeout=30).text
    assert (
        form(session, hub, name="sneaky", plan="public", dataset="cohort-data").status_code == 403
    )


def test_the_form_makes_the_same_group_the_admin_panel_edits(hub):
    session = browser_login(hub, "root")
    make_dataset(hub, "gamma-data", project="gamma")  # imported before the project exists
    made = form(session, hub, name="gamma", plan="public", dataset="gamma-data",
                expires="2031-01-31", description="Sepsis cohort", members="dan, eve\nfay")  # fmt: skip
    assert made.status_code == 302, made.text
    group = hub.api("GET", "/groups/gamma").json()
    assert sorted(group["users"]) == ["dan", "eve", "fay"]
    assert group["properties"] == {"plan": "public", "dataset": "gamma-data",
                                   "expires": "2031-01-31", "description": "Sepsis cohort"}  # fmt: skip
    wait_for(hub, action="project.create", target="gamma")


@pytest.mark.parametrize(
    "case_id, values, message",
    [
        ("bad-name", {"name": "Bad_Name"}, "cannot be a project name"),
        ("exists", {"name": "zeta"}, "project 'zeta' exists already"),
        ("bad-plan", {"plan": "pubic"}, "plan 'pubic' is not defined"),
        ("path-dataset", {"dataset": "../etc"}, "not a path"),
        ("too-many", {"plan": "public", "members": " ".join(f"m{i}" for i in range(11))},
         "cannot have 11 members: its plan (public) allows 10"),
    ],
)  # fmt: skip
def test_the_form_refuses_what_the_checks_refuse_and_makes_nothing(hub, case_id, values, message):
    session = browser_login(hub, "root")
    name = values.get("name", f"new-{case_id}")
    fields = {"name": name, "plan": "public", **values}  # no dataset yet: onboarding allows it
    refused = form(session, hub, **fields)
    assert refused.status_code == 400
    shown = re.search(r'id="new-project-error">([^<]*)<', refused.text)
    assert shown and message in shown.group(1).replace("&#39;", "'"), refused.text[-2000:]
    if case_id != "exists":
        assert hub.api("GET", f"/groups/{name}").status_code == 404


def test_the_admin_panels_own_api_call_gets_the_checks_message(hub):
    panel = browser_login(hub, "root")
    response = as_admin_panel(panel, hub, "PUT", "/groups/zeta/properties",
                              json={"plan": "pubic", "dataset": "cohort-data"})  # fmt: skip
    assert response.status_code == 400
    assert (
        "plan 'pubic' is not defined; defined plans: private, public" in response.json()["message"]
    )
    admin = panel.get(f"{hub.url}/hub/admin", timeout=30)
    # The panel's page carries the script that shows that message above the panel (the
    # browser tier watches it appear).
    assert admin.status_code == 200 and 'getElementById("hds-api-error")' in admin.text
