"""The demo OpenID Connect provider (demo/oidc-provider) for tests, and a browser that logs in."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent
from urllib.parse import parse_qs, urljoin, urlparse

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from .hub import ROOT, RealHub, free_port, wait_for_http

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
        """Start the provider; once, when it hangs before answering, start it again.

        Twice in a whole `make test` (of about 8 starts each) it slept after its module
        import and never answered; the failure then printed its state (see wait_for_http).
        The retry is written to its log and to stderr, so it stays visible.
        """
        try:
            return self._start(timeout)
        except TimeoutError as hung:
            note = f"the demo provider hung; starting it once more. {hung}"
            print(note, file=sys.stderr)
            self.workdir.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a") as log:
                log.write(f"\n--- {note}\n")
            return self._start(timeout)

    def _start(self, timeout: float) -> DemoProvider:
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
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        try:
            wait_for_http(self.process, discovery, timeout, "the demo provider", self.log)
        except BaseException:
            self.stop()  # never leave a provider behind, answering or not
            raise
        return self

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def tamper(id_token: str, mode: str) -> str:
    """`id_token` altered the way an attacker between hub and provider could alter it."""
    header, payload, signature = id_token.split(".")
    claims = _unb64(payload)
    if mode == "payload":  # another person, the provider's signature kept
        claims["sub"] = "someone-else"
        return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    if mode == "alg-none":  # "unsigned" token
        unsigned = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{unsigned}.{payload}."
    if mode == "other-key":  # well-formed, signed with a key the provider never published
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _unb64(header)["kid"]})
    raise ValueError(f"unknown tampering {mode!r}")


class TokenProxy:
    """A man in the middle on the token endpoint: forwards to the provider, alters the ID token.

    `mode` None forwards untouched; "down" answers 502 as a dead provider behind a gateway would.
    """

    def __init__(self, token_endpoint: str):
        self.token_endpoint = token_endpoint
        self.mode: str | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.mode == "down":
                    return self._answer(502, b"Bad Gateway")
                headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
                upstream = requests.post(
                    proxy.token_endpoint, data=body, headers=headers, timeout=10
                )
                answer = upstream.content
                if upstream.ok and proxy.mode:
                    tokens = upstream.json()
                    tokens["id_token"] = tamper(tokens["id_token"], proxy.mode)
                    answer = json.dumps(tokens).encode()
                self._answer(upstream.status_code, answer)

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


FORWARDED = {"authorization", "content-type", "accept"}
