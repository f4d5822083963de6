"""Sharing inside an in-process hub: grants, refusals, and revocation when membership changes."""

from __future__ import annotations

from unittest import mock

import pytest
from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub import orm
from jupyterhub.tests.utils import api_request, auth_header, get_page

from jupyter_hds import i18n
from jupyter_hds.sharing import revocation
from jupyter_hds.sharing.config import TEMPLATES
from jupyter_hds.sharing.handlers import HANDLERS
from support.mockhub import make_group_project

pytestmark = pytest.mark.hub

ACCESS = "access:servers!server={}/{}"


@pytest.fixture
def hub(app, tmp_path):
    app.config.Deployment.state_dir = str(tmp_path)  # where make_group_project imports datasets
    if not getattr(app, "_hds_sharing_handlers", False):
        # MockHub is already running: tornado puts added routes ahead of the existing ones
        # (and so of JupyterHub's catch-all /api/ 404), as c.JupyterHub.extra_handlers would.
        # add_url_prefix rewrites the list it is given: give it a copy (a second module's hub).
        handlers = app.add_url_prefix(app.hub_prefix, list(HANDLERS))
        app.tornado_application.add_handlers(".*$", handlers)
        app._hds_sharing_handlers = True
        revocation.install()
    app.config.SharingPolicy.require_origin_isolation = False
    env = app.tornado_settings["jinja2_env"]
    loader, env.loader = env.loader, ChoiceLoader([FileSystemLoader(TEMPLATES), env.loader])
    if i18n.EXTENSION not in env.extensions:  # the hub's pages speak the reader's language
        env.add_extension(i18n.EXTENSION)
    try:
        with mock.patch.dict(app.tornado_settings, {"allow_named_servers": True}):
            yield app
    finally:
        env.loader = loader
        env.cache.clear()


def project(app, name, members, **properties):
    return make_group_project(app, name, members, **properties)


async def share(app, actor, owner, server, **recipient):
    return await api_request(
        app, "hds", "shares", owner, server, method="post", headers=auth_header(app.db, actor),
        json=recipient,
    )  # fmt: skip


async def scopes_of(app, name):
    response = await api_request(app, "user", headers=auth_header(app.db, name))
    assert response.status_code == 200, response.text
    return set(response.json()["scopes"])


async def test_member_shares_with_member_and_the_grant_is_audited(hub, recorded):
    project(hub, "sh-alpha", ["sh-alice", "sh-carol"])
    response = await share(hub, "sh-alice", "sh-alice", "sh-alpha", user="sh-carol")
    assert response.status_code == 200, response.text
    assert response.json()["user"] == "sh-carol"
    assert ACCESS.format("sh-alice", "sh-alpha") in await scopes_of(hub, "sh-carol")
    assert [(e.action, e.actor, e.outcome, e.details["user"]) for e in recorded] == [
        ("share.granted", "sh-alice", "succeeded", "sh-carol")
    ]
    listed = await api_request(
        hub, "hds", "shares", "sh-alice", "sh-alpha", headers=auth_header(hub.db, "sh-alice")
    )
    assert [s["user"] for s in listed.json()["shares"]] == ["sh-carol"]


@pytest.mark.parametrize(
    "case_id, actor, owner, recipient, reason",
    [
        ("outsider", "sh-ann", "sh-ann", {"user": "sh-bob"}, "not-member"),
        ("not-the-owner", "sh-cid", "sh-ann", {"user": "sh-cid"}, "not-owner"),
        ("outsider-for-self", "sh-bob", "sh-ann", {"user": "sh-bob"}, "not-owner"),
    ],
)
async def test_refused_shares_grant_nothing(
    hub, recorded, case_id, actor, owner, recipient, reason
):
    project(hub, "sh-alpha2", ["sh-ann", "sh-cid"])
    project(hub, "sh-beta", ["sh-bob"])
    response = await share(hub, actor, owner, "sh-alpha2", **recipient)
    assert response.status_code == 403, response.text
    assert response.json()["reason"] == reason
    for name in ("sh-bob", "sh-cid"):
        assert ACCESS.format("sh-ann", "sh-alpha2") not in await scopes_of(hub, name)
    assert [(e.action, e.outcome, e.details["reason"]) for e in recorded] == [
        ("share.refused", "refused", reason)
    ]


async def test_jupyterhubs_own_sharing_api_and_share_codes_are_closed_to_users(hub):
    project(hub, "sh-gamma", ["sh-gil", "sh-hal"])
    headers = auth_header(hub.db, "sh-gil")
    await api_request(hub, "users", "sh-gil", "servers", "sh-gamma", method="post", headers=headers)
    direct = await api_request(
        hub, "shares", "sh-gil", "sh-gamma", method="post", headers=headers,
        json={"user": "sh-hal"},
    )  # fmt: skip
    code = await api_request(
        hub, "share-codes", "sh-gil", "sh-gamma", method="post", headers=headers, json={}
    )
    assert (direct.status_code, code.status_code) == (403, 403), (direct.text, code.text)
    await api_request(hub, "users", "sh-gil", "servers", "sh-gamma", method="delete")


async def test_removing_the_recipient_from_the_project_revokes_at_once(hub, recorded):
    project(hub, "sh-delta", ["sh-dan", "sh-eve"])
    assert (await share(hub, "sh-dan", "sh-dan", "sh-delta", user="sh-eve")).status_code == 200
    assert ACCESS.format("sh-dan", "sh-delta") in await scopes_of(hub, "sh-eve")
    removed = await api_request(
        hub, "groups", "sh-delta", "users", method="delete", json={"users": ["sh-eve"]}
    )
    assert removed.status_code == 200, removed.text
    assert ACCESS.format("sh-dan", "sh-delta") not in await scopes_of(hub, "sh-eve")
    assert hub.db.query(orm.Share).filter(orm.Share.user.has(name="sh-eve")).count() == 0
    revoked = [e for e in recorded if e.action == "share.revoked"]
    assert [(e.actor, e.details["user"], e.details["reason"]) for e in revoked] == [
        ("service:jupyterhub", "sh-eve", "sh-eve is not a member of project sh-delta")
    ]


async def test_an_owner_who_leaves_takes_their_shares_along(hub):
    project(hub, "sh-eps", ["sh-fay", "sh-gus"])
    assert (await share(hub, "sh-fay", "sh-fay", "sh-eps", user="sh-gus")).status_code == 200
    await api_request(hub, "groups", "sh-eps", "users", method="delete", json={"users": ["sh-fay"]})
    assert ACCESS.format("sh-fay", "sh-eps") not in await scopes_of(hub, "sh-gus")
    # Back in the project, the old share does not come back with her.
    await api_request(hub, "groups", "sh-eps", "users", method="post", json={"users": ["sh-fay"]})
    assert ACCESS.format("sh-fay", "sh-eps") not in await scopes_of(hub, "sh-gus")


async def test_group_shares_are_refused(hub):
    # JupyterHub 6.1 leaves group shares out of token scopes (browsers use tokens).
    project(hub, "sh-zeta", ["sh-ida", "sh-jon"])
    response = await share(hub, "sh-ida", "sh-ida", "sh-zeta", group="sh-zeta")
    assert response.status_code == 400 and response.json()["reason"] == "group"


async def test_closing_the_project_drops_its_shares(hub):
    project(hub, "sh-eta", ["sh-lea", "sh-max"])
    assert (await share(hub, "sh-lea", "sh-lea", "sh-eta", user="sh-max")).status_code == 200
    deleted = await api_request(hub, "groups", "sh-eta", method="delete")
    assert deleted.status_code == 204, deleted.text
    assert ACCESS.format("sh-lea", "sh-eta") not in await scopes_of(hub, "sh-max")


async def test_owner_revokes_and_recipient_may_leave(hub, recorded):
    project(hub, "sh-theta", ["sh-ned", "sh-oli"])
    headers = {"ned": auth_header(hub.db, "sh-ned"), "oli": auth_header(hub.db, "sh-oli")}
    assert (await share(hub, "sh-ned", "sh-ned", "sh-theta", user="sh-oli")).status_code == 200
    path = ("hds", "shares", "sh-ned", "sh-theta?user=sh-oli")
    left = await api_request(hub, *path, method="delete", headers=headers["oli"])
    assert left.status_code == 204, left.text
    assert ACCESS.format("sh-ned", "sh-theta") not in await scopes_of(hub, "sh-oli")
    assert (await share(hub, "sh-ned", "sh-ned", "sh-theta", user="sh-oli")).status_code == 200
    revoked = await api_request(hub, *path, method="delete", headers=headers["ned"])
    assert revoked.status_code == 204, revoked.text
    assert ACCESS.format("sh-ned", "sh-theta") not in await scopes_of(hub, "sh-oli")
    assert [e.action for e in recorded].count("share.revoked") == 2


async def test_the_servers_own_token_manages_no_shares(hub, recorded):
    """A guest runs code as the owner and can read the server's token: it grants, revokes
    and lists nothing."""
    project(hub, "sh-omicron", ["sh-wes", "sh-xia", "sh-yan"])
    assert (await share(hub, "sh-wes", "sh-wes", "sh-omicron", user="sh-xia")).status_code == 200
    server_token = orm.User.find(hub.db, "sh-wes").new_api_token(
        scopes=[ACCESS.format("sh-wes", "sh-omicron"), "users:activity!user=sh-wes"]
    )
    headers = {"Authorization": f"token {server_token}"}
    path = ("hds", "shares", "sh-wes", "sh-omicron")
    granted = await api_request(hub, *path, method="post", headers=headers, json={"user": "sh-yan"})
    revoked = await api_request(hub, *path[:-1], "sh-omicron?user=sh-xia", method="delete",
                                headers=headers)  # fmt: skip
    listed = await api_request(hub, *path, headers=headers)
    for answer in (granted, revoked, listed):
        assert answer.status_code == 403, answer.text
        assert answer.json()["reason"] == "token-scope"
    assert ACCESS.format("sh-wes", "sh-omicron") in await scopes_of(hub, "sh-xia")
    assert ACCESS.format("sh-wes", "sh-omicron") not in await scopes_of(hub, "sh-yan")
    # The owner's own login still manages them.
    owner = auth_header(hub.db, "sh-wes")
    assert (await api_request(hub, *path, headers=owner)).json()["shares"][0]["user"] == "sh-xia"


async def test_sharing_refused_without_origin_isolation(hub):
    project(hub, "sh-iota", ["sh-pat", "sh-quin"])
    cookies = await hub.login_user("sh-pat")
    hub.config.SharingPolicy.require_origin_isolation = True
    try:
        with mock.patch.dict(hub.tornado_settings, {"subdomain_host": ""}):
            response = await share(hub, "sh-pat", "sh-pat", "sh-iota", user="sh-quin")
            page = await get_page("hds/sharing", hub, cookies=cookies)
    finally:
        hub.config.SharingPolicy.require_origin_isolation = False
    assert response.status_code == 403
    assert "c.JupyterHub.subdomain_host" in response.json()["message"]
    assert page.status_code == 200, page.text
    assert 'data-project="sh-iota"' in page.text, page.text
    assert "Members: sh-quin." in page.text, page.text
    assert (
        'id="sharing-unavailable"' in page.text
        and "button" not in page.text.split('id="sharing"')[1].split("Shared with you")[0]
    )


async def test_sharing_page_lists_members_and_shared_servers(hub):
    project(hub, "sh-kappa", ["sh-ray", "sh-sam"])
    project(hub, "sh-lambda", ["sh-ray", "sh-tom"])
    project(hub, "sh-nu", ["sh-sam", "sh-uri"])  # sh-ray is not in it
    assert (await share(hub, "sh-sam", "sh-sam", "sh-kappa", user="sh-ray")).status_code == 200
    assert (await share(hub, "sh-uri", "sh-uri", "sh-nu", user="sh-sam")).status_code == 200
    cookies = await hub.login_user("sh-ray")
    page = await get_page("hds/sharing", hub, cookies=cookies)
    assert page.status_code == 200, page.text
    assert 'data-project="sh-kappa"' in page.text and 'data-member="sh-sam"' in page.text
    assert 'data-member="sh-tom"' in page.text
    assert 'data-owner="sh-sam"' in page.text  # shared with sh-ray
    assert "sh-nu" not in page.text and "sh-uri" not in page.text


async def test_group_sync_at_login_revokes_too(hub):
    # Authenticator.manage_groups rewrites a user's groups from the identity provider's claims.
    project(hub, "sh-mu", ["sh-uma", "sh-val"])
    assert (await share(hub, "sh-uma", "sh-uma", "sh-mu", user="sh-val")).status_code == 200
    hub.db.expire(orm.Group.find(hub.db, "sh-mu"), ["users"])  # only the user's side is loaded
    hub.users["sh-val"].sync_groups([])
    assert ACCESS.format("sh-uma", "sh-mu") not in await scopes_of(hub, "sh-val")
