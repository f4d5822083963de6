"""The door and the terms of use through the real hub: operator name, notice, the terms page,
acceptance as an audit event, who has not accepted; the home page's gauges and banners, in
English and in French."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta

import pytest
import requests

from hds_quota.ledger import Ledger
from hds_quota.plans import DEFAULT_PLANS, Plan
from support.audit_record import EMITTING_LOGIN, wait_for
from support.hub import RealHub, browser_login, make_dataset, make_project
from support.usage import used_this_month

pytestmark = pytest.mark.hub

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
TERMS = "# Charte d'utilisation\n\nNe pas ré-identifier.\n\n<script>alert(1)</script>\n"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    state = tmp_path_factory.mktemp("terms")
    (state / "terms.md").write_text(TERMS, encoding="utf-8")
    (state / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    hub = RealHub(state, extra_config=EMITTING_LOGIN + f"""
c.Branding.name = "CHU Exemple"
c.Branding.logo_file = "{state / 'logo.svg'}"
c.Branding.terms_file = "{state / 'terms.md'}"
c.Branding.terms_version = "2026-01"
""").start()  # fmt: skip
    make_dataset(hub, "cohort-data", project="cohort")
    ends = (date.today() + timedelta(days=3)).isoformat()
    make_project(hub, "cohort", ["ann", "ben"], dataset="cohort-data", expires=ends)
    plan = Plan.from_config("public", DEFAULT_PLANS["public"])
    # 170 of the plan's 200 CPU-hours this month: 85 %
    used_this_month(Ledger(state / "usage"), plan, "cohort", "old", 170)
    yield hub
    hub.stop()


def text(html: str) -> str:
    html = re.sub(r"(?s)<script.*?</script>|<style.*?</style>", " ", html)
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html))  # keeps no-break spaces


def get(session, hub, path, **headers) -> requests.Response:
    response = session.get(f"{hub.url}{path}", headers=headers, timeout=30)
    response.encoding = "utf-8"
    return response


def test_the_login_page_names_the_operator_and_says_activity_is_recorded(hub):
    english = get(requests.Session(), hub, "/hub/login")
    assert "<title>CHU Exemple</title>" in english.text
    assert 'src="/hub/hds/logo"' in english.text
    assert "health-data environment" in text(english.text)
    assert "activity on it is recorded" in text(english.text)
    french = get(requests.Session(), hub, "/hub/login", **FRENCH)
    assert "Votre activité y est enregistrée" in text(french.text)
    assert 'document.documentElement.lang = "fr"' in french.text
    logo = requests.get(f"{hub.url}/hub/hds/logo", timeout=30)
    assert logo.status_code == 200 and logo.headers["Content-Type"] == "image/svg+xml"


def test_the_home_page_shows_the_plan_used_as_bars_with_words(hub):
    page = text(get(browser_login(hub, "ann"), hub, "/hub/home").text)
    html = get(browser_login(hub, "ann"), hub, "/hub/home").text
    assert "Your access to cohort ends on" in page and "in 3 days" in page
    assert "cohort has used 85% of its compute for this month (170 of 200 CPU-hours)" in page
    compute = re.search(r'data-gauge="compute" data-level="(\w+)"', html)[1]
    assert compute == "high"
    assert 'aria-valuenow="85"' in html and 'aria-valuetext="170 of 200 (85% used)"' in html
    assert "⚠ 85% used" in page and "0 of 20 GiB" in page and "0 of 5" in page
    assert "Before you start a server, read and accept the terms of use (version 2026-01)" in page


def test_the_home_page_in_french(hub):
    page = text(get(browser_login(hub, "ann"), hub, "/hub/home", **FRENCH).text)
    assert "Vos projets" in page
    assert "Votre accès à cohort prend fin le" in page and "dans 3 jours" in page
    assert "cohort a utilisé 85\u00a0% de son calcul de ce mois (170 heures-CPU sur 200)" in page
    assert "0 sur 20 Gio" in page and "Serveurs en marche" in page
    assert "2 membres sur 10" in page
    assert "lisez et acceptez la charte d’utilisation (version 2026-01)" in page


def test_a_person_reads_and_accepts_the_terms_once_per_version(hub):
    session = browser_login(hub, "ann")
    shown = get(session, hub, "/hub/hds/terms?next=/hub/spawn/ann/cohort", **FRENCH)
    assert shown.status_code == 200
    assert "Charte d’utilisation" in text(shown.text) and "Version 2026-01, de CHU Exemple" in (
        text(shown.text)
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text  # the operator's HTML is text
    xsrf = session.cookies.get("_xsrf", path="/hub/")
    accepted = session.post(
        f"{hub.url}/hub/hds/terms?next=/hub/spawn/ann/cohort",
        data={"_xsrf": xsrf, "version": "2026-01", "read": "on"},
        timeout=30, allow_redirects=False,
    )  # fmt: skip
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/hub/spawn/ann/cohort"
    [event] = wait_for(hub, action="terms.accepted", actor="ann")
    sha256 = hashlib.sha256(TERMS.encode()).hexdigest()
    assert event["details"] == {"version": "2026-01", "sha256": sha256}
    stored = json.loads((hub.state_dir / "terms-accepted.json").read_text())
    assert stored["ann"]["version"] == "2026-01" and stored["ann"]["sha256"] == sha256
    again = text(get(session, hub, "/hub/hds/terms").text)
    assert "You accepted this version on" in again
    assert "read and accept the terms" not in text(get(session, hub, "/hub/home").text)


def test_an_old_version_of_the_page_does_not_count_for_the_new_terms(hub):
    session = browser_login(hub, "ben")
    get(session, hub, "/hub/hds/terms")
    response = session.post(
        f"{hub.url}/hub/hds/terms",
        data={"_xsrf": session.cookies.get("_xsrf", path="/hub/"), "version": "2025-06"},
        timeout=30, allow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 302 and "/hub/hds/terms" in response.headers["Location"]
    stored = json.loads((hub.state_dir / "terms-accepted.json").read_text() or "{}")
    assert "ben" not in stored


def test_next_never_leaves_the_hub(hub):
    session = browser_login(hub, "ann")
    page = get(session, hub, "/hub/hds/terms?next=https://evil.example/")
    assert 'href="/hub/home"' in page.text and "evil.example" not in page.text


def test_the_hosting_team_sees_who_has_not_accepted(hub):
    browser_login(hub, "ann")  # ann accepted in an earlier test; ben has not
    page = text(get(browser_login(hub, "root"), hub, "/hub/hds/projects").text)
    assert "Terms of use" in page and "not accepted by ben" in page
