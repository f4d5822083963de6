"""A release through the airlock in a real browser, from JupyterLab to the download and the audit.

A researcher asks for a table and a figure to leave the demo project; two output checkers
review (one asks for changes: a count of 3); the researcher resubmits a fixed table; both
approve; the researcher downloads exactly the approved bytes; the auditor reads the story.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

from support import docker_engine
from support.browser import person, shoot
from support.demo_stack import DemoStack

pytestmark = [pytest.mark.browser, pytest.mark.docker]

USER, PROJECT = "researcher", "demo-cohort"
SERVER = f"/user/{USER}/{PROJECT}"
TABLE = "age_band,sex,count\n40-44,F,12\n40-44,M,3\n45-49,F,25\n45-49,M,31\n"
FIXED = "age_band,sex,count\n40-49,F,37\n40-49,M,34\n"
# A bar chart as a PNG, drawn pixel by pixel (the image has no plotting library).
FIGURE = """
import struct, zlib
w, h, bars = 240, 160, [12, 3, 25, 31]
rows = []
for y in range(h):
    row = bytearray()
    for x in range(w):
        i = x // 60
        top = h - 10 - bars[i] * 4
        inside = 10 + i * 60 < x < i * 60 + 50 and top <= y < h - 10
        row += bytes((40, 90, 160) if inside else (255, 255, 255))
    rows.append(b"\\0" + bytes(row))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
open("/home/jovyan/work/figure.png", "wb").write(png)
"""


class AirlockStack(DemoStack):
    """`make up`'s stack, with the airlock subsystem until the shipped config lists it.

    Its fragment comes first, so that hub/demo.d puts the demo checkers in their group.
    """

    def write_config(self) -> None:
        super().write_config()
        # Its own network pool: other runs on this engine pick subnets of the default one.
        pool = 'c.HDSDockerSpawner.network_pool = "10.219.0.0/16"\n'
        (self.config_dir / "05-network-pool.py").write_text(pool)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, docker_client):
    stack = AirlockStack(tmp_path_factory.mktemp("airlock-stack")).start()
    yield stack
    stack.stop()


def container(docker_client):
    return docker_client.containers.get(f"{docker_engine.RUN_PREFIX}-{USER}--{PROJECT}")


def in_container(docker_client, script: str) -> bytes:
    code, output = container(docker_client).exec_run(["python", "-c", script], user="1000:1000")
    assert code == 0, output.decode()
    return output


def write_table(docker_client, text: str) -> None:
    in_container(docker_client, f"open('/home/jovyan/work/table.csv', 'w').write({text!r})")


def read_work(docker_client, name: str) -> bytes:
    code, output = container(docker_client).exec_run(["cat", f"/home/jovyan/work/{name}"])
    assert code == 0
    return output


def open_lab(page: Page) -> None:
    page.goto("/hub/home")
    page.locator(f'tr[data-server-name="{PROJECT}"]').get_by_role("button", name="start").click()
    page.wait_for_url(f"**{SERVER}/lab**", timeout=120_000)
    expect(page.locator(".jp-BreadCrumbs")).to_contain_text("work")


def show_files(page: Page, *names: str) -> None:
    page.locator('.jp-FileBrowser-toolbar [data-command="filebrowser:refresh"]').or_(
        page.get_by_title("Refresh the file browser")
    ).first.click()
    for name in names:
        expect(page.locator(".jp-DirListing-item", has_text=name)).to_be_visible()


def fill_request(page: Page, purpose: str | None) -> Locator:
    """Fill the open "Request release…" dialog, submit it, return the new request's id."""
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Request the release of results")
    if purpose is not None:
        dialog.locator(".jp-hds-airlock-form > .jp-hds-airlock-field textarea").fill(purpose)
    table = dialog.locator(".jp-hds-airlock-file", has_text="table.csv")
    table.locator("textarea").fill("Patients by age band and sex, demo cohort, 2022-2024")
    table.locator("input[type=number]").fill("11")
    figure = dialog.locator(".jp-hds-airlock-file", has_text="figure.png")
    figure.locator("textarea").fill("Figure 1: the same counts as bars")
    return dialog


def submit(page: Page, dialog: Locator) -> tuple[str, Locator]:
    dialog.locator(".jp-Dialog-button", has_text="Submit").click()
    done = page.locator(".jp-Dialog", has_text="Release requested")
    expect(done).to_be_visible(timeout=60_000)
    request_id = re.search(r"request (\d{8}-[0-9a-f]{6})", done.inner_text())[1]
    return request_id, done


def review(page: Page, request_id: str, decision: str, comment: str = "") -> None:
    page.goto(f"/hub/hds/airlock/requests/{request_id}")
    page.locator(f"#decision-{decision}").check()
    if comment:
        page.fill("#comment", comment)
    page.locator("#decide").click()
    expect(page.locator("#airlock-message")).to_contain_text("Your vote is recorded")


def test_a_release_from_request_to_download(stack, chromium, docker_client, tmp_path):
    researcher = person(chromium, stack.url, USER)
    open_lab(researcher)
    write_table(docker_client, TABLE)
    in_container(docker_client, FIGURE)
    figure = read_work(docker_client, "figure.png")
    show_files(researcher, "table.csv", "figure.png")
    researcher.locator(".jp-DirListing-item", has_text="table.csv").click()
    researcher.locator(".jp-DirListing-item", has_text="figure.png").click(modifiers=["Control"])
    researcher.locator(".jp-DirListing-item", has_text="figure.png").click(button="right")
    researcher.locator(".lm-Menu-itemLabel", has_text="Request release…").click()
    dialog = fill_request(researcher, "Table 2 and Figure 1 of the cohort paper")
    shoot(researcher, "airlock-1-request-in-jupyterlab")
    first, done = submit(researcher, dialog)
    shoot(researcher, "airlock-2-requested")
    done.locator(".jp-Dialog-button", has_text="Close").click()
    write_table(docker_client, "edited after the request\n")  # the frozen copy stays

    checker = person(chromium, stack.url, "checker")
    checker.goto("/hub/hds/airlock")
    expect(checker.locator(f'#queue tr[data-request="{first}"]')).to_be_visible()
    shoot(checker, "airlock-3-review-queue")
    checker.locator(f'tr[data-request="{first}"] a.request-link').click()
    small = checker.locator('td[data-flag="small-count"]')
    expect(small).to_have_text(["3"])
    expect(checker.locator("li.flag").first).to_contain_text("count from 1 to 10 (3)")
    image = checker.locator("img.frozen-image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 240
    shoot(checker, "airlock-4-review-table-flagged-and-figure")
    review(checker, first, "changes", "Row 2 has a count of 3: merge the age bands so that "
           "every count is at least 11.")  # fmt: skip

    checker2 = person(chromium, stack.url, "checker2")
    checker2.goto(f"/hub/hds/airlock/requests/{first}")
    expect(checker2.locator("#votes-hidden")).to_contain_text("1 other vote(s) in")
    review(checker2, first, "approve")
    expect(checker2.locator("#status")).to_have_text("changes-requested")
    expect(checker2.locator("#votes li")).to_have_count(2)
    shoot(checker2, "airlock-5-votes-revealed-changes-requested")

    researcher.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    researcher.locator(".lm-Menu-itemLabel", has_text="Release requests").click()
    panel = researcher.locator(".jp-hds-airlock-panel")
    expect(panel).to_contain_text(f"Request {first}: changes-requested")
    expect(panel).to_contain_text("Row 2 has a count of 3")
    shoot(researcher, "airlock-6-changes-requested-in-jupyterlab")
    write_table(docker_client, FIXED)
    panel.get_by_role("button", name="Submit a new version…").click()
    second, done = submit(researcher, fill_request(researcher, None))
    done.locator(".jp-Dialog-button", has_text="Close").click()

    review(checker, second, "approve", "Fine now.")
    review(checker2, second, "approve")
    expect(checker2.locator("#status")).to_have_text("released")

    # JupyterLab's panel links each approved file to the hub, which hands it out.
    researcher.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    researcher.locator(".lm-Menu-itemLabel", has_text="Release requests").click()
    released = panel.locator(".jp-hds-airlock-request", has_text=f"Request {second}: released")
    links = released.locator("a.jp-hds-airlock-download")
    expect(links).to_have_count(2)
    hrefs = sorted(links.nth(i).get_attribute("href") for i in range(2))
    hub_download = f"{stack.url}/hub/hds/airlock/requests/{second}/download"
    assert hrefs == [f"{hub_download}/1", f"{hub_download}/2"]
    expect(released).to_contain_text("Download until")
    shoot(researcher, "airlock-6b-released-in-jupyterlab")

    researcher.goto(f"/hub/hds/airlock/requests/{second}")
    expect(researcher.locator("#status")).to_have_text("released")
    expect(researcher.locator("#comments")).to_contain_text("Fine now.")
    shoot(researcher, "airlock-7-released")
    write_table(docker_client, "edited after the release\n")
    got = {}
    for link in researcher.locator("a.download").all():
        with researcher.expect_download() as download:
            link.click()
        got[download.value.suggested_filename] = download.value.path().read_bytes()
    assert got == {"table.csv": FIXED.encode(), "figure.png": figure}

    auditor = person(chromium, stack.url, "auditor")
    auditor.goto("/services/audit/")
    auditor.fill("input[name=action]", "airlock")
    auditor.get_by_role("button", name="Filter").click()
    actions = auditor.locator("tbody tr td.action")
    story = [
        "airlock.requested", "airlock.checked", "airlock.changes-requested", "airlock.approved",
        "airlock.released", "airlock.downloaded",
    ]  # fmt: skip
    deadline = time.monotonic() + 30
    while not set(story) <= set(actions.all_inner_texts()) and time.monotonic() < deadline:
        time.sleep(1)
        auditor.reload()
    assert set(story) <= set(actions.all_inner_texts())
    shoot(auditor, "airlock-8-audit-story")
