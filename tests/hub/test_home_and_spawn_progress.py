"""The researcher's home rows and the spawn page's steps, inside a real (in-process) hub.

JupyterHub's mock spawner runs a real single-user process; the project mixin, its quotas
and the volumes (loop mounts: run as root) are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date, timedelta
from unittest import mock
from urllib.parse import quote

import pytest
from jupyterhub import orm
from jupyterhub.tests.mocking import MockSpawner
from jupyterhub.tests.utils import api_request, async_requests

from hds_quota.ledger import Ledger
from hds_quota.plans import DEFAULT_PLANS, Plans
from hds_quota.volumes import mounts
from jupyter_hds.projects.home import home_rows
from jupyter_hds.projects.spawner import ProjectSpawnerMixin
from jupyter_hds.terms.store import Acceptances
from support.mockhub import make_group_project
from support.usage import used_this_month

pytestmark = pytest.mark.hub

PLANS = {"small": {**DEFAULT_PLANS["public"], "running_servers": 2, "storage": "64M",
                   "cpu_hours_month": 10}}  # fmt: skip
GATE: asyncio.Event | None = None  # a start waits here, when set, so its steps can be watched


class Gated(MockSpawner):
    async def start(self):
        if GATE is not None:
            await GATE.wait()
        return await super().start()


class ProgressMockSpawner(ProjectSpawnerMixin, Gated):
    def apply_project(self, project, storage):
        self.environment = {**self.environment, "HDS_PROJECT": project.name}


@pytest.fixture
def hub(app, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("these tests loop-mount project volumes: run them as root, as the hub runs")
    config = app.config
    config.Deployment.state_dir = str(tmp_path)
    config.ProjectSettings.uid = config.ProjectSettings.gid = os.getuid() or 1000
    config.Plans.plans = {**DEFAULT_PLANS, **PLANS}
    settings = {
        "allow_named_servers": True,
        "named_server_limit_per_user": 0,
        "spawner_class": ProgressMockSpawner,
    }
    with mock.patch.dict(app.tornado_settings, settings):
        yield app
    for name in ("terms_file", "terms_version"):
        config.Branding.pop(name, None)
    for mountpoint in [m for m in mounts() if m.startswith(str(tmp_path))]:
        os.system(f"umount {mountpoint}")  # noqa: S605 (a test's own temporary mount)


def user(app, name):
    return app.users[orm.User.find(app.db, name)]


async def start(app, name, server, **kwargs):
    return await api_request(app, "users", name, "servers", server, method="post", **kwargs)


async def stop(app, name, server):
    await api_request(app, "users", name, "servers", server, method="delete")
    for _ in range(100):
        if not user(app, name).spawners[server].active:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{name}/{server} did not stop")


async def wait_ready(app, name, server):
    for _ in range(300):
        if user(app, name).spawners[server].ready:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{name}/{server} not ready")


async def test_home_rows_measure_storage_compute_and_servers_against_the_plan(hub):
    ends = (date.today() + timedelta(days=5)).isoformat()
    make_group_project(hub, "gauges", ["ann", "bob"], plan="small", expires=ends)
    make_group_project(hub, "quiet", ["ann"], plan="small")
    ledger = Ledger(os.path.join(hub.config.Deployment.state_dir, "usage"))
    plan = Plans(config=hub.config).get("small")
    used_this_month(ledger, plan, "gauges", "old", 8.5)
    assert (await start(hub, "bob", "gauges")).status_code in (201, 202)
    await wait_ready(hub, "bob", "gauges")

    rows = {row.name: row for row in await home_rows(user(hub, "ann"))}

    gauges = rows["gauges"]
    assert (gauges.running.used, gauges.running.limit) == (1, 2)
    assert gauges.compute.limit == 10 and 8.4 < gauges.compute.used < 8.6
    assert gauges.compute.level == "high" and gauges.compute_high
    assert 0 < gauges.storage.used < gauges.storage.limit == 64 * 1024**2  # bob's start made it
    assert gauges.ends_in == 5 and gauges.ending_soon
    assert gauges.members == 2 and gauges.limits.name == "small"
    quiet = rows["quiet"]
    assert (quiet.running.used, quiet.compute.used, quiet.storage.used) == (0, 0.0, 0)
    assert not quiet.ending_soon and not quiet.compute_high and quiet.ends_in is None
    await stop(hub, "bob", "gauges")


async def events_of(response):
    lines = iter(response.iter_lines(decode_unicode=True))

    def next_event():
        for line in lines:
            if line.startswith("data:"):
                return json.loads(line.split(":", 1)[1])
        return None

    found = []
    while True:
        event = await async_requests.executor.submit(next_event)
        if event is None:
            return found
        found.append(event)
        if event.get("progress") == 100:
            return found


@pytest.mark.parametrize(
    "case_id, language, expected",
    [
        ("english", "en-GB", [
            (0, "Server requested"),
            (10, "Project steps checked: you are a member, its settings are valid (plan small)."),
            (30, "Storage ready: "),
            (90, "Container started: waiting for the server to answer."),
            (100, "Server answering: opening JupyterLab."),
        ]),
        ("french", "fr-FR,fr;q=0.9", [
            (0, "Server requested"),  # JupyterHub's own; the spawn page translates it
            (10, "Projet steps vérifié\u00a0: vous en êtes membre, ses réglages sont valides "
                 "(offre small)."),
            (30, "Stockage prêt\u00a0: "),
            (90, "Conteneur démarré\u00a0: en attente de la réponse du serveur."),
            (100, "Le serveur répond\u00a0: ouverture de JupyterLab."),
        ]),
    ],
)  # fmt: skip
async def test_the_spawn_page_shows_each_step_in_the_readers_language(
    hub, request, case_id, language, expected
):
    global GATE
    make_group_project(hub, "steps", ["cid"], plan="small")
    GATE = asyncio.Event()
    try:
        response = await start(hub, "cid", "steps", headers={"Accept-Language": language})
        assert response.status_code == 202, response.text
        progress = await api_request(
            hub, "users", "cid", "servers", "steps", "progress", stream=True
        )
        request.addfinalizer(progress.close)
        reading = asyncio.ensure_future(events_of(progress))
        await asyncio.sleep(1)  # the first steps are in; the container waits at the gate
        GATE.set()
        found = await asyncio.wait_for(reading, 60)
    finally:
        GATE = None
    assert len(found) == len(expected), found
    pairs = zip(found, expected, strict=True)
    assert [(e["progress"], e["message"][: len(m)]) for e, (_, m) in pairs] == expected
    assert found[-1]["ready"] and '/user/cid/steps/">' in found[-1]["html_message"]
    await stop(hub, "cid", "steps")


async def test_a_start_waits_for_the_terms_in_force_then_goes_ahead(hub, recorded, tmp_path):
    terms = tmp_path / "terms.md"
    terms.write_text("# Terms\n", encoding="utf-8")
    hub.config.Branding.terms_file = str(terms)
    hub.config.Branding.terms_version = "v1"
    make_group_project(hub, "charter", ["dee"], plan="small")

    refused = await start(hub, "dee", "charter", headers={"Accept-Language": "fr"})
    assert refused.status_code == 403
    base, again = hub.hub.base_url, quote(f"{hub.hub.base_url}spawn/dee/charter", safe="")
    assert refused.json()["message"] == (
        "Acceptez la charte d’utilisation (version v1) avant de démarrer un serveur. Lisez-la et "
        f"acceptez-la sur {base}hds/terms?next={again}"
    )
    assert [(e.action, e.details["reason"]) for e in recorded] == [
        ("server.refused", "terms-not-accepted")
    ]
    assert not list((tmp_path / "usage").glob("*")), "nothing was started nor recorded"

    Acceptances(tmp_path / "terms-accepted.json").accept("dee", "v1", "sha")
    assert (await start(hub, "dee", "charter")).status_code in (201, 202)
    await wait_ready(hub, "dee", "charter")
    await stop(hub, "dee", "charter")

    hub.config.Branding.terms_version = "v2"  # new terms: accepted again before the next start
    assert (await start(hub, "dee", "charter")).status_code == 403
