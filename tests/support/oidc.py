"""The demo OpenID Connect provider (demo/oidc-provider) for tests, and a browser that logs in."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from textwrap import dedent
from urllib.parse import parse_qs, urljoin, urlparse

import requests

from .hub import ROOT, RealHub, free_port

PROVIDER_DIR = ROOT / "demo" / "oidc-provider"
DEMO_ACCOUNTS = json.loads((PROVIDER_DIR / "accounts.json").read_text())
PASSWORDS = {account["username"]: account["password"] for account in DEMO_ACCOUNTS}


def account(username: str, acr: str = "eidas1", groups=("hds-users",), **claims) -> dict:
    """A test-only account for the provider (password: `<username>-test`)."""
    PASSWORDS[username] = f"{username}-test"
    return {
        "username": username,
        "password": PASSWORDS[username],
        "sub": f"sub-{username}-{secrets.token_hex(4)}",
        "acr": acr,
        "claims": {"preferred_username": username, "groups": list(groups), **claims},
    }


class DemoProvider:
    """`node demo/oidc-provider/server.mjs` on a free port, with the given clients and accounts."""

    def __init__(self, workdir: Path, accounts: list[dict] | None = None, access_token_ttl=600):
        self.workdir = workdir
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.accounts = DEMO_ACCOUNTS + (accounts or [])
        self.access_token_ttl = access_token_ttl
        self.clients: list[dict] = []
        self.log_path = workdir / "provider.log"
        self.process: subprocess.Popen | None = None

    def add_client(self, hub: RealHub, client_id: str, **metadata) -> dict:
        """Register `hub` as a confidential client; returns the id and secret to configure."""
        client = {
            "client_id": client_id,
            "client_secret": secrets.token_hex(24),
            "client_name": f"test hub {client_id}",
            "redirect_uris": [f"{hub.url}/hub/oauth_callback"],
            "post_logout_redirect_uris": [f"{hub.url}/hub/login"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            **metadata,
        }
        self.clients.append(client)
        return client

    def start(self, timeout: float = 30) -> DemoProvider:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "clients.json").write_text(json.dumps(self.clients))
        (self.workdir / "accounts.json").write_text(json.dumps(self.accounts))
        env = {
            **os.environ,
            "DEMO_OIDC_PORT": str(self.port),
            "DEMO_OIDC_CLIENTS": str(self.workdir / "clients.json"),
            "DEMO_OIDC_ACCOUNTS": str(self.workdir / "accounts.json"),
            "DEMO_OIDC_ACCESS_TOKEN_TTL": str(self.access_token_ttl),
        }
        self.process = subprocess.Popen(
            ["node", str(PROVIDER_DIR / "server.mjs")],
            env=env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the provider exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the provider did not answer within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def oidc_hub_config(client: dict, issuer: str, events_path: Path, extra: str = "") -> str:
    """A RealHub fragment: this login, every jupyter_hds event as a JSON line in `events_path`."""
    return dedent(f"""
    import json
    from jupyter_hds import events

    def _record(event):
        with open({str(events_path)!r}, "a") as out:
            out.write(json.dumps(event.to_dict()) + "\\n")

    events.subscribe(_record)
    c.JupyterHub.authenticator_class = "hds-oidc"
    c.HDSOIDCAuthenticator.issuer = {issuer!r}
    c.HDSOIDCAuthenticator.client_id = {client["client_id"]!r}
    c.HDSOIDCAuthenticator.client_secret = {client["client_secret"]!r}
    c.JupyterHub.load_roles.append(
        {{"name": "hds-test-auth-state", "scopes": ["admin:auth_state"], "services": ["hds-test"]}}
    )
    """) + dedent(extra)


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Forms(HTMLParser):
    """The forms of a page: action, method and input values."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({**attrs, "inputs": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["inputs"][attrs["name"]] = attrs.get("value") or ""


class Browser:
    """A requests session that follows the login dance like a browser, one step at a time."""

    def __init__(self, hub: RealHub):
        self.hub = hub
        self.session = requests.Session()
        self.authorize_url = ""

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(
            urljoin(self.hub.url, url), allow_redirects=False, timeout=30, **kwargs
        )

    def follow(self, response: requests.Response, stop_at: str = "") -> requests.Response:
        """Follow redirects until a page, or until the next hop would start with `stop_at`."""
        while response.is_redirect:
            target = urljoin(response.url, response.headers["Location"])
            if stop_at and target.startswith(stop_at):
                response.next_url = target
                return response
            response = self.session.get(target, allow_redirects=False, timeout=30)
        return response

    def start_login(self) -> requests.Response:
        """From the hub's login route to the provider's page (login form, or back with a code)."""
        to_provider = self.get("/hub/oauth_login?next=/hub/home")
        assert to_provider.status_code == 302, to_provider.text
        self.authorize_url = to_provider.headers["Location"]
        return self.follow(
            self.session.get(self.authorize_url, allow_redirects=False, timeout=30),
            stop_at=f"{self.hub.url}/hub/oauth_callback",
        )

    def submit_login(self, page: requests.Response, username: str, password: str | None = None):
        """Fill the provider's login form; return the callback URL the provider sends back to."""
        form = Forms(page.text).forms[0]
        response = self.session.post(
            urljoin(page.url, form["action"]),
            data={"username": username, "password": password or PASSWORDS[username]},
            allow_redirects=False,
            timeout=30,
        )
        assert response.is_redirect, f"login refused by the provider: {response.text[:500]}"
        response = self.follow(response, stop_at=f"{self.hub.url}/hub/oauth_callback")
        return response.next_url

    def login(self, username: str) -> requests.Response:
        """The whole flow; returns the hub's answer to the callback (not followed)."""
        callback = self.submit_login(self.start_login(), username)
        return self.session.get(callback, allow_redirects=False, timeout=30)

    def authorize_params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlparse(self.authorize_url).query).items()}


def start_pair(
    tmp_path_factory,
    *,
    accounts=(),
    client_id="hub",
    client_metadata=None,
    extra_config="",
    access_token_ttl=600,
    demo_fragment=False,
):
    """A provider and a hub registered with it; the hub's events land in `hub.events_path`."""
    work = tmp_path_factory.mktemp("oidc")
    hub = RealHub(work / "hub", env={"JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32)})
    provider = DemoProvider(work / "provider", list(accounts), access_token_ttl=access_token_ttl)
    client = provider.add_client(hub, client_id, **(client_metadata or {}))
    hub.events_path = work / "events.jsonl"
    hub.extra_config = oidc_hub_config(client, provider.issuer, hub.events_path, extra_config)
    if demo_fragment:
        # The fragment `make up` loads, as shipped: it reads the provider from the environment.
        hub.config_dir.mkdir(parents=True)
        shutil.copy(ROOT / "hub" / "demo.d" / "10-demo-login.py", hub.config_dir)
        hub.env.update(
            HDS_DEMO_OIDC_ISSUER=provider.issuer,
            HDS_DEMO_OIDC_CLIENT_SECRET=client["client_secret"],
        )
    provider.start()
    try:
        hub.start()
    except Exception:
        provider.stop()
        raise
    return hub, provider
