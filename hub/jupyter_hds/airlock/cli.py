"""`hds airlock ...`: output checkers review release requests from a shell, over the hub's API.

Needs JUPYTERHUB_API_URL (e.g. http://127.0.0.1:8081/hub/api) and JUPYTERHUB_API_TOKEN, a
token of an output checker (the `output-checker` role): decisions are recorded in their name.
"""

from __future__ import annotations

import argparse
import json

from ..hub_api import HubAPI

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
