"""A French researcher at the door: the login page, the terms of use to accept, the server
starting step by step, JupyterLab in French, and her home page with what the plan allows and
what is used, all in her browser's language (Accept-Language: fr-FR)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import docker
import pytest
from playwright.sync_api import Browser, expect

from hds_quota.ledger import Ledger
from hds_quota.plans import DEFAULT_PLANS, Plan
from support.audit_record import wait_for
from support.browser import CONTEXTS, TIMEOUT_MS, person, shoot
from support.docker_engine import RUN_PREFIX
from support.usage import used_this_month

pytestmark = [pytest.mark.browser, pytest.mark.docker]

USER, PROJECT = "researcher2", "demo-cohort"
SERVER = f"/user/{USER}/{PROJECT}"


def french_login_page(browser: Browser, hub_url: str):
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, base_url=hub_url, locale="fr-FR"
    )
    context.set_default_timeout(TIMEOUT_MS)
    CONTEXTS.append(context)
    page = context.new_page()
    page.goto("/hub/login")
    return page


@contextmanager
def held_once_running(name: str, timeout: float = 180) -> Iterator[threading.Event]:
    """Pause container `name` as soon as it runs, until the block ends (the event is set then).

    The hub has started the server, but it cannot answer yet, so the spawn page stays on its
    steps however fast the server starts: JupyterHub's progress stream sends no steps once a
    server is ready, only "ready", and a page that connects late goes straight on.
    """
    held, done = threading.Event(), threading.Event()
    client = docker.from_env()

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while not done.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(docker.errors.NotFound):
                container = client.containers.get(name)
                if container.status == "running":
                    container.pause()
                    held.set()
                    return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield held
    finally:
        done.set()
        watcher.join()
        if held.is_set():
            client.containers.get(name).unpause()
        client.close()


def project_used_this_month(stack) -> None:
    """What the project used before today: 170 of its plan's 200 CPU-hours (85 %), and an end
    of access in 10 days, so that both of the home page's warnings show."""
    plan = Plan.from_config("public", DEFAULT_PLANS["public"])
    used_this_month(Ledger(stack.state_dir / "usage"), plan, PROJECT, "researcher", 170)
    properties = stack.api("GET", f"/groups/{PROJECT}").json()["properties"]
    ends = (date.today() + timedelta(days=10)).isoformat()
    response = stack.api(
        "PUT", f"/groups/{PROJECT}/properties", json={**properties, "expires": ends}
    )
    assert response.status_code == 200, response.text


def test_a_french_researcher_accepts_the_terms_and_sees_her_usage(stack, chromium):
    door = french_login_page(chromium, stack.url)
    expect(door.locator("#hds-login-notice")).to_contain_text("Votre activité y est enregistrée")
    expect(door.locator("#hds-operator")).to_have_text("Jupyter HDS — démo")
    expect(door.locator("#login-main")).to_contain_text("Se connecter avec")
    assert door.evaluate("document.documentElement.lang") == "fr"
    shoot(door, "door-1-login-in-french")

    project_used_this_month(stack)
    page = person(chromium, stack.url, USER, locale="fr-FR", accept_terms=False)
    expect(page.locator("h1")).to_have_text("Vos projets")
    expect(page.locator("#terms-banner")).to_contain_text("lisez et acceptez la charte")
    # Not accepted yet: the start is refused, with a link to the terms.
    page.goto(f"/hub/spawn/{USER}/{PROJECT}")
    expect(page.locator("body")).to_contain_text("Acceptez la charte d’utilisation")
    page.locator("#hds-terms-link").click()
    expect(page.locator("#terms-text")).to_contain_text("En utilisant cette plateforme")
    expect(page.locator("#terms-version")).to_contain_text("Version 2026-01")
    shoot(page, "researcher-fr-1-terms-of-use")
    with held_once_running(f"{RUN_PREFIX}-{USER}--{PROJECT}") as held:
        page.check("#terms-read")
        page.click("#accept-terms")
        [accepted] = wait_for(stack, action="terms.accepted", actor=USER)
        assert accepted["details"]["version"] == "2026-01"
        assert len(accepted["details"]["sha256"]) == 64

        # Accepting goes back to the start it interrupted: the spawn page, step by step.
        expect(page.locator("#progress-log")).to_contain_text("Stockage prêt", timeout=120_000)
        page.locator("#progress-details").evaluate("details => details.open = true")
        expect(page.locator("#progress-log")).to_contain_text("Conteneur démarré", timeout=120_000)
        expect(page.locator("#progress-log")).to_contain_text("Réseau prêt")
        assert held.is_set(), "the server was not held: the steps were seen by chance"
        shoot(page, "researcher-fr-2-server-starting")
    page.wait_for_url(f"**{SERVER}/lab**", timeout=120_000)

    # JupyterLab in French: the language pack is in the image.
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Language").click()
    page.locator(".lm-Menu-itemLabel", has_text="French").click()
    page.locator(".jp-Dialog-button", has_text="Change and reload").click()
    french_menu = page.locator(".lm-MenuBar-itemLabel", has_text="Fichier")
    expect(french_menu).to_be_visible(timeout=120_000)
    french_menu.click()
    page.locator(".lm-Menu-itemLabel", has_text="Nouveau lanceur").click()
    expect(page.locator(".jp-Launcher-sectionTitle").first).to_be_visible()
    shoot(page, "researcher-fr-3-jupyterlab-in-french")

    page.goto("/hub/home")
    row = page.locator(f'tr[data-server-name="{PROJECT}"]')
    expect(page.locator("#terms-banner")).to_have_count(0)
    expect(page.locator('[data-banner="ending"]')).to_contain_text("dans 10 jours")
    expect(page.locator('[data-banner="compute"]')).to_contain_text("85\u00a0%")
    expect(row.locator('[data-gauge="compute"]')).to_have_attribute("data-level", "high")
    expect(row.locator('[data-gauge="servers"]')).to_contain_text("1 sur 5")
    expect(row.locator('[data-gauge="storage"]')).to_contain_text("sur 20 Gio")
    expect(row.get_by_role("button", name="arrêter")).to_be_visible()
    shoot(page, "researcher-fr-4-home-with-usage")
