"""Outputs carry no script into the member's browser (issue 19, item 7).

A module planted in ~/shared by a colleague runs as the member and can display anything: script
in an HTML or Markdown output, an event handler, an application/javascript output, a frame.
Outputs made in the session are trusted, so JupyterLab 4.6 would run all of it on the hub's
origin, where it could call the member's other projects' servers. The image disables the
renderers that run code (javascript, vega) and the user servers send a Content-Security-Policy
without inline script: JupyterLab renders the outputs, and none of their script runs.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from support.browser import person, shoot

pytestmark = [pytest.mark.browser, pytest.mark.docker]

USER, PROJECT = "researcher", "demo-cohort"
SERVER = f"/user/{USER}/{PROJECT}"
# Each script adds its name to a marker on the page; none may be there after the outputs render.
MARK = "window.hdsRan = (window.hdsRan || []).concat"
FRAME_MARK = MARK.replace("window", "parent")
CODE = f"""from IPython.display import HTML, Javascript, Markdown, display
display(HTML('<b id="hds-html">html output</b>'
             '<script>document.title = "ran-html"; {MARK}(["html-script"])</script>'
             '<img src="data:," onerror="{MARK}([\\'html-onerror\\'])">'
             '<iframe srcdoc="<script>{FRAME_MARK}([\\'iframe\\'])</script>"></iframe>'))
display(Javascript('document.title = "ran-js"; {MARK}(["javascript"])'))
display(Markdown('**markdown output** <script>{MARK}(["markdown-script"])</script>'))
print("outputs done")"""


def test_no_script_from_an_output_runs(stack, chromium):
    page = person(chromium, stack.url, USER)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "HDS-CSP" in m.text else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.log("
        "'HDS-CSP ' + e.effectiveDirective + ' ' + e.blockedURI))"
    )
    documents = []  # pages the browser loaded, with their headers
    page.on(
        "response", lambda r: documents.append(r) if r.request.resource_type == "document" else None
    )
    page.goto("/hub/home")
    page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start").click()
    page.wait_for_url(f"**{SERVER}/lab**", timeout=120_000)
    # The launcher creates notebooks where the file browser is: ~/work, once it got there.
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text("work")

    page.get_by_title("New Launcher").or_(
        page.locator('[data-command="launcher:create"]')
    ).first.click()
    page.locator('.jp-LauncherCard[data-category="Notebook"]:visible').first.click()
    expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(
        timeout=90_000
    )
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
    page.keyboard.insert_text(CODE)
    page.keyboard.press("Shift+Enter")

    # JupyterLab loaded and rendered the outputs ...
    expect(page.locator(".jp-OutputArea-output", has_text="outputs done")).to_be_visible(
        timeout=90_000
    )
    expect(page.locator("#hds-html")).to_have_text("html output")
    expect(page.locator(".jp-RenderedMarkdown", has_text="markdown output")).to_be_visible()
    page.wait_for_timeout(2000)  # time for any script to have run
    shoot(page, "output-scripts-rendered-not-run")
    # ... and none of their script ran.
    assert page.evaluate("window.hdsRan || []") == []
    assert not re.match("ran-", page.title())
    blocked = {v.split()[1] for v in violations}
    assert blocked <= {"script-src-elem", "script-src-attr"}, violations
    assert "script-src-attr" in blocked  # the onerror handler was refused by the policy
    labs = [r for r in documents if f"{SERVER}/lab" in r.url]  # JupyterLab's page as served
    assert labs, [r.url for r in documents]
    policy = labs[-1].all_headers().get("content-security-policy", "")
    directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
    assert directives.get("script-src") == "'self' 'unsafe-eval'", policy  # no inline script
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
