"""Attack: a provider group named like a hub group that carries a role, with `manage_groups`.

The provider owns project membership (`manage_groups`, no prefix), and its users can be put
in groups the hub does not control (self-service groups, a careless provider admin). A
provider group called `auditors` or `hds-admins` must not make anyone an auditor or staff.
"""

from __future__ import annotations

import pytest

from support.oidc import Browser, account, start_pair

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub, provider = start_pair(
        tmp_path_factory,
        accounts=[
            account("mallory", groups=["hds-users", "auditors", "hds-admins", "cohort"]),
            account("ada", groups=["hds-users", "it-hosting"]),
        ],
        extra_config="""
        c.HDSOIDCAuthenticator.scope = ["openid", "profile", "email", "groups"]
        c.HDSOIDCAuthenticator.allowed_provider_groups = {"hds-users"}
        c.HDSOIDCAuthenticator.admin_provider_groups = {"it-hosting"}
        c.HDSOIDCAuthenticator.manage_groups = True
        """,
    )
    yield hub
    hub.stop()
    provider.stop()


def groups_of(hub, name):
    return set(hub.api("GET", f"/users/{name}").json()["groups"])


def test_provider_groups_named_like_role_groups_grant_no_role(hub):
    assert Browser(hub).login("mallory").status_code == 302
    assert groups_of(hub, "mallory") == {"cohort", "hds-users"}  # projects: from the provider
    assert "mallory" not in hub.api("GET", "/groups/auditors").json()["users"]
    assert "mallory" not in hub.api("GET", "/groups/hds-admins").json()["users"]


def test_the_hosting_team_comes_from_the_group_the_operator_named(hub):
    assert Browser(hub).login("ada").status_code == 302
    assert groups_of(hub, "ada") == {"hds-admins", "hds-users", "it-hosting"}
