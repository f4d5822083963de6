"""`hds airlock ...`: output checkers review release requests from a shell, over the hub's API.

Needs JUPYTERHUB_API_URL (e.g. http://127.0.0.1:8081/hub/api) and JUPYTERHUB_API_TOKEN, a
token of an output checker (the `output-checker` role): decisions are recorded in their name.
`hds airlock purge` is the hosting team's, on the hub's host: it deletes the frozen copies of
finished requests after c.Airlock.keep_days (a daily timer in a production install).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from traitlets.config import Config

from .. import settings
from ..audit.inbox import Inbox
from ..audit.intake import new_event
from ..audit.operator import operator
from ..deployment import Deployment
from ..hub_api import HubAPI
from ..policy.airlock import Airlock
from . import retention
from .store import ReleaseStore

DECISIONS = {"approve": "approve", "reject": "reject", "request-changes": "request-changes"}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `airlock list|show|approve|reject|request-changes` to the `hds` command."""
    airlock = commands.add_parser(
        "airlock",
        help="review release requests (needs JUPYTERHUB_API_URL and an output checker's "
        "JUPYTERHUB_API_TOKEN)",
    )
    actions = airlock.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="requests waiting for review (--all: every one)")
    listing.add_argument("--all", action="store_true", help="decided requests too")
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="one request: files, checks, votes (JSON)")
    show.add_argument("id")
    show.set_defaults(func=cmd_show)
    for name, text in (
        ("approve", "approve a request: its files may leave as they are"),
        ("request-changes", "ask the requester to change the request (say what, --comment)"),
        ("reject", "reject a request: these results cannot leave (say why, --comment)"),
    ):
        decide = actions.add_parser(name, help=text)
        decide.add_argument("id")
        decide.add_argument("--comment", "-m", default="", help="read by the requester")
        decide.set_defaults(func=cmd_decide, decision=DECISIONS[name])
    purge = actions.add_parser(
        "purge", help="delete the frozen copies of requests finished c.Airlock.keep_days ago "
        "(on the hub's host; each deletion recorded)",
    )  # fmt: skip
    purge.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    purge.set_defaults(func=cmd_purge)


def cmd_list(args: argparse.Namespace, api: HubAPI | None = None) -> int:
    api = api or HubAPI()
    status = "all" if args.all else "open"
    requests = api.request("GET", "/hds/airlock/queue", params={"status": status})["requests"]
    if not requests:
        print("no request waiting for review" if status == "open" else "no request")
    for r in requests:
        voted = ", you voted" if r["voted"] else ""
        files = ", ".join(f["path"] for f in r["files"])
        print(f"{r['id']}\t{r['project']}\t{r['requester']}\t{r['status']}\t"
              f"{r['votes_in']}/{r['approvals_required']} votes{voted}\t{r['flags']} flags\t"
              f"{files}")  # fmt: skip
    return 0


def cmd_show(args: argparse.Namespace, api: HubAPI | None = None) -> int:
    api = api or HubAPI()
    print(json.dumps(api.request("GET", f"/hds/airlock/requests/{args.id}"), indent=2))
    return 0


def cmd_decide(args: argparse.Namespace, api: HubAPI | None = None) -> int:
    api = api or HubAPI()
    body = {"decision": args.decision, "comment": args.comment}
    answer = api.request("POST", f"/hds/airlock/requests/{args.id}/decision", json=body)
    votes = f"{answer['votes_in']}/{answer['approvals_required']} votes"
    print(f"{answer['id']}: your vote ({args.decision}) is recorded; the request is now "
          f"{answer['status']} ({votes})")  # fmt: skip
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    deployment = Deployment(state_dir=args.state_dir)
    try:
        config = settings.load(deployment.settings_file)
    except settings.SettingsMissing:
        config = Config()  # the defaults, before the hub's first start
    actor, kind = operator("hds-airlock-purge")
    inbox = Inbox(deployment.audit)

    def record(fields: dict[str, Any]) -> None:
        inbox.put([new_event("airlock.purged", actor, kind, "succeeded", **fields)],
                  source="airlock-purge")  # fmt: skip

    store = ReleaseStore(deployment.releases)
    done = retention.purge(store, Airlock(config=config), datetime.now(UTC), record,
                           dry_run=args.dry_run)  # fmt: skip
    verb = "would delete" if args.dry_run else "deleted"
    for fields in done:
        files = ", ".join(f["path"] for f in fields["details"]["files"])
        print(f"{fields['target']}\t{fields['project']}\t{fields['details']['status']}\t"
              f"{verb}: {files}")  # fmt: skip
    if not done:
        print("no frozen copy is due for deletion")
    return 0
