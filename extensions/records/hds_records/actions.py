"""The catalogue of audit actions: every action any part of Jupyter HDS records, and nothing else.

Each action has the outcomes it may carry, who reports it and a one-line meaning. The event
constructor (`events.Event`) refuses an action or an outcome that is not here, the hub's
intake accepts from users' servers only the actions servers report, and docs/audit.md's
table of actions is this table (`python -m hds_records.actions` prints it; a test compares).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OUTCOMES = ("allowed", "refused", "failed", "succeeded")
NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")

# Who reports an action (the "reported by" column of docs/audit.md).
HUB = "hub"
REQUEST_LOG = "hub request log"
INTAKE = "hub intake"
AUDIT = "audit service"
USAGE = "usage service"
COMMAND = "hds command"
SERVER = "user server"
SERVER_LOG = "user server log"
REPORTERS = (HUB, REQUEST_LOG, INTAKE, AUDIT, USAGE, COMMAND, SERVER, SERVER_LOG)

DONE = ("succeeded",)
ANSWERED = ("succeeded", "refused", "failed")  # a request the hub answered (by its status)


@dataclass(frozen=True)
class Action:
    name: str
    outcomes: tuple[str, ...]
    reporter: str
    meaning: str

    def __post_init__(self):
        if not NAME.match(self.name) or len(self.name) > 64:
            raise ValueError(f"action {self.name!r} must be dotted lowercase, e.g. login.failed")
        if not self.outcomes or set(self.outcomes) - set(OUTCOMES):
            raise ValueError(f"action {self.name}: outcomes are among {', '.join(OUTCOMES)}")
        if self.reporter not in REPORTERS:
            raise ValueError(f"action {self.name}: reporter is one of {', '.join(REPORTERS)}")


def _api(method: str) -> Action:
    return Action(
        f"api.{method.lower()}",
        ANSWERED,
        REQUEST_LOG,
        f"any other {method} on the hub's API, or a logged-in person's {method} it refused",
    )


CATALOGUE: tuple[Action, ...] = (
    # Logging in and out (the OIDC login; a provider's groups claim).
    Action("login", DONE, HUB, "someone logged in (provider, acr)"),
    Action("login.failed", ("refused", "failed"), HUB, "a login failed, with the reason"),
    Action("logout", DONE, HUB, "someone logged out"),
    # Changes through the hub's REST API, which the admin panel uses too (request log).
    Action("user.create", ANSWERED, REQUEST_LOG, "a user was created"),
    Action("user.modify", ANSWERED, REQUEST_LOG, "a user was changed (making one admin too)"),
    Action("user.delete", ANSWERED, REQUEST_LOG, "a user was deleted"),
    Action("user.admin-access", ANSWERED, REQUEST_LOG, "an admin asked for access to a user"),
    Action("group.create", ANSWERED, REQUEST_LOG, "a group (project) was created"),
    Action("group.delete", ANSWERED, REQUEST_LOG, "a group (project) was deleted"),
    Action("group.properties", ANSWERED, REQUEST_LOG, "a project's properties were set"),
    Action(
        "group.members.add",
        ANSWERED,
        REQUEST_LOG,
        "members were added to a group, by an admin or by the provider's groups claim",
    ),
    Action(
        "group.members.remove",
        ANSWERED,
        REQUEST_LOG,
        "members were removed from a group, by an admin or by the provider's groups claim",
    ),
    Action("token.create", ANSWERED, REQUEST_LOG, "an API token was created"),
    Action("token.revoke", ANSWERED, REQUEST_LOG, "an API token was revoked"),
    Action("share.grant", ANSWERED, REQUEST_LOG, "a server was shared through the REST API"),
    Action("share.revoke", ANSWERED, REQUEST_LOG, "a share was withdrawn through the REST API"),
    Action("share.revoke-all", ANSWERED, REQUEST_LOG, "every share of a server was withdrawn"),
    Action("share.leave", ANSWERED, REQUEST_LOG, "someone left a server shared with them"),
    Action("share.accept", ANSWERED, REQUEST_LOG, "someone accepted a share code"),
    Action("share-code.create", ANSWERED, REQUEST_LOG, "a share code was created"),
    Action("share-code.revoke", ANSWERED, REQUEST_LOG, "a share code was revoked"),
    Action("proxy.sync", ANSWERED, REQUEST_LOG, "the proxy's routes were re-synced"),
    Action("proxy.update", ANSWERED, REQUEST_LOG, "the proxy's settings were changed"),
    Action("hub.shutdown", ANSWERED, REQUEST_LOG, "someone asked the hub to shut down"),
    Action("server.start", ANSWERED, REQUEST_LOG, "someone asked to start a server"),
    Action("server.stop", ANSWERED, REQUEST_LOG, "someone asked to stop a server"),
    Action("server.open", ANSWERED, REQUEST_LOG, "someone opened a user's server (OAuth step)"),
    Action("service.open", ANSWERED, REQUEST_LOG, "someone opened a hub service (OAuth step)"),
    *(_api(method) for method in ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")),
    # Projects (the hosting team's New project form).
    Action("project.create", DONE, HUB, "the hosting team created a project (New project form)"),
    # Terms of use (the hub's terms page).
    Action("terms.accepted", DONE, HUB, "someone accepted the terms of use (version, sha256)"),
    # Servers' lives (JupyterHub's events, the project spawner).
    Action(
        "server.started",
        ("succeeded", "failed"),
        HUB,
        "a server started; failed when a start that passed the checks failed or timed out",
    ),
    Action("server.stopped", DONE, HUB, "the hub stopped a server it was asked to stop"),
    Action(
        "server.exited",
        ("succeeded", "failed"),
        HUB,
        "a server's container ended by itself (exit code, out-of-memory kill)",
    ),
    Action("server.refused", ("refused",), HUB, "a project's settings or plan refused a start"),
    # Sharing page and revocation.
    Action("share.granted", DONE, HUB, "an owner shared a project server (sharing page)"),
    Action("share.refused", ("refused",), HUB, "a share was refused (not a project member)"),
    Action("share.revoked", DONE, HUB, "a share ended: withdrawn, or its guest left the project"),
    # Quotas.
    Action("quota.stopped", DONE, USAGE, "a server was stopped: its project's compute ran out"),
    # The data guard in users' servers.
    Action("download.blocked", ("refused",), SERVER, "a file download (/files/, /view/) refused"),
    Action("export.blocked", ("refused",), SERVER, "a notebook export (/nbconvert/) refused"),
    Action("dataset.read", ("allowed",), SERVER, "a dataset file was opened as text"),
    Action(
        "dataset.read.blocked",
        ("refused",),
        SERVER,
        "a raw read of a dataset file refused, or a read whose event could not be recorded",
    ),
    Action("dataset.copy.blocked", ("refused",), SERVER, "a copy out of the dataset refused"),
    Action("dataset.move.blocked", ("refused",), SERVER, "a move out of the dataset refused"),
    Action(
        "guard.spool.failed",
        ("failed",),
        SERVER,
        "a server could neither deliver nor spool an event; audited reads refused meanwhile",
    ),
    # The collaboration guard in users' servers (their log only, docs/collaboration.md).
    Action("collaboration.guest.admitted", ("allowed",), SERVER_LOG, "a guest came in"),
    Action("collaboration.guest.cut_off", ("refused",), SERVER_LOG, "a guest's access ended"),
    Action("collaboration.room.refused", ("refused",), SERVER_LOG, "a co-editing room refused"),
    Action("document.joined", ("allowed",), SERVER_LOG, "someone joined a co-edited document"),
    Action("document.left", ("allowed",), SERVER_LOG, "someone left a co-edited document"),
    # Dataset imports (hds dataset import).
    Action("dataset.import", ("succeeded", "failed"), COMMAND, "a dataset version was imported"),
    Action("dataset.import.refused", ("refused",), COMMAND, "an import was refused by its checks"),
    # Backups (hds backup).
    Action("backup.created", ("succeeded", "failed"), COMMAND, "a backup of the state was made"),
    Action("backup.restored", DONE, COMMAND, "a backup was restored (in the restored record)"),
    # The output airlock.
    Action("airlock.requested", ANSWERED, HUB, "a researcher asked for files to be released"),
    Action("airlock.checked", ANSWERED, HUB, "the automatic checks ran on a release request"),
    Action("airlock.approved", ANSWERED, HUB, "an output checker approved a request"),
    Action("airlock.rejected", ANSWERED, HUB, "an output checker rejected a request"),
    Action("airlock.changes-requested", ANSWERED, HUB, "an output checker asked for changes"),
    Action("airlock.released", ANSWERED, HUB, "approved files were released to the requester"),
    Action("airlock.downloaded", ANSWERED, HUB, "the requester downloaded released files"),
    Action("airlock.purged", DONE, COMMAND, "a finished request's frozen copies were deleted"),
    # The audit record itself.
    Action("audit.start", DONE, AUDIT, "the audit service started"),
    Action(
        "audit.repaired", DONE, AUDIT, "an unfinished write, cut off after a crash, was set aside"
    ),
    Action("audit.inbox.unreadable", ("failed",), AUDIT, "inbox lines it could not read (kept)"),
    Action("audit.misconfigured", ("failed",), HUB, "a config fragment unplugged an audit hook"),
    Action(
        "audit.report.refused",
        ("refused",),
        INTAKE,
        "a server's report refused (bad token, a claim about another project or user)",
    ),
    Action(
        "audit.report.limited",
        ("refused",),
        INTAKE,
        "a server's reports refused (429) past its rate or daily volume: once per episode",
    ),
    Action(
        "audit.report.missing",
        ("failed",),
        INTAKE,
        "numbers missing in a server's events: events it reported never arrived",
    ),
    Action("audit.view", ("allowed",), AUDIT, "an auditor viewed the audit page (filters)"),
    Action(
        "audit.export",
        ("allowed",),
        AUDIT,
        "an auditor started a CSV export (filters, matching entries), before its first row",
    ),
    Action(
        "audit.access-report",
        ("allowed",),
        AUDIT,
        "someone generated a project's monthly access report (page, CSV or hds audit report), "
        "before it is served",
    ),
)

ACTIONS: dict[str, Action] = {action.name: action for action in CATALOGUE}
if len(ACTIONS) != len(CATALOGUE):
    raise RuntimeError("an action is catalogued twice")


class UnknownAction(ValueError):
    """An action, or an outcome of an action, that the catalogue does not list."""


def check(name: str, outcome: str) -> Action:
    """The catalogued action `name`, if it may have `outcome`; UnknownAction otherwise."""
    action = ACTIONS.get(name)
    if action is None:
        raise UnknownAction(
            f"action {name!r} is not in the catalogue (hds_records.actions); add it there, "
            "with its outcomes, reporter and meaning, and to docs/audit.md"
        )
    if outcome not in action.outcomes:
        raise UnknownAction(
            f"action {name} has outcome {', '.join(action.outcomes)}, not {outcome!r}"
        )
    return action


def markdown_table() -> str:
    """The catalogue as the table docs/audit.md carries."""
    rows = ["| action | outcomes | reported by | meaning |", "|---|---|---|---|"]
    for action in CATALOGUE:
        rows.append(
            f"| `{action.name}` | {', '.join(action.outcomes)} | {action.reporter} "
            f"| {action.meaning} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
