"""The node agent: a swarm node's own duties for the hub, done on the node, asked through the swarm.

On one host the hub mounts project volumes itself. On a swarm a project's volume lives on
the node its servers run on, and the hub never reaches into other hosts: each node runs
this agent as root under systemd (`jupyter-hds-node-agent.service`), listening on a unix
socket that only root and the hub's one-shot agent tasks can open. The hub asks by running
a task on the node (`projects.swarm.AgentClient`): `ensure` a project's volume (created,
resized, mounted) and its member folders; `release` it (unmounted when no server uses it);
`usage`. Standard library and `hds_quota.volumes` only, so a node needs no hub install.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hds_quota.volumes import ProjectVolumes, StorageError, VolumeTooSmall

from .projects.storage import ProjectStorage

SOCKET = "/run/jupyter-hds/agent.sock"
STATE_DIR = "/var/lib/jupyter-hds"
log = logging.getLogger("jupyter_hds.node_agent")

# What a job task runs on the node to ask the agent: one JSON line in, one JSON line out
# (printed, so the hub reads it from the task's log); exit 3 when the agent refused.
CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(600)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\\n")
line = s.makefile().readline()
print("HDS-AGENT " + line.strip(), flush=True)
sys.exit(0 if json.loads(line).get("ok") else 3)
"""


class Agent:
    """The duties of one node, on its state folder (the same path on every node)."""

    def __init__(self, state_dir: str | Path, preallocate: bool = False):
        state = Path(state_dir)
        self.projects = state / "projects"
        self.volumes = ProjectVolumes(state / "project-volumes", self.projects, preallocate)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one request; failures are answers too (`ok` false, with why)."""
        try:
            action = getattr(self, f"do_{request.get('op')}", None)
            if action is None:
                return {"ok": False, "error": "unknown", "message": f"unknown op {request}"}
            return {"ok": True, **action(request)}
        except VolumeTooSmall as error:
            return {"ok": False, "error": "too-small", "used": error.used, "message": str(error)}
        except (StorageError, OSError, KeyError, ValueError) as error:
            log.exception("request %s failed", request)
            return {"ok": False, "error": "unavailable", "message": str(error)}

    def do_ensure(self, request: dict[str, Any]) -> dict[str, Any]:
        """Mount the project's volume (made or resized to `size`) and a member's folders."""
        project = request["project"]
        usage = self.volumes.ensure(project, int(request["size"]), bool(request["in_use"]))
        storage = ProjectStorage.for_member(self.projects, project, request["member"])
        storage.ensure(int(request["uid"]), int(request["gid"]))
        return {"usage": asdict(usage)}

    def do_release(self, request: dict[str, Any]) -> dict[str, Any]:
        """Unmount the project's volume if asked (no server of it runs any more); its use."""
        project = request["project"]
        usage = self.volumes.usage(project)
        unmounted = bool(request.get("unmount")) and self.volumes.unmount(project)
        return {"usage": asdict(usage) if usage else None, "unmounted": unmounted}

    def do_usage(self, request: dict[str, Any]) -> dict[str, Any]:
        usage = self.volumes.usage(request["project"])
        return {"usage": asdict(usage) if usage else None}


async def serve(agent: Agent, path: str) -> None:
    """Answer requests on the unix socket `path` (root only) until cancelled."""
    folder = Path(path).parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    Path(path).unlink(missing_ok=True)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline())
            reply = await asyncio.to_thread(agent.handle, request)
        except json.JSONDecodeError as error:
            reply = {"ok": False, "error": "unknown", "message": f"not JSON: {error}"}
        log.info("%s -> %s", request if "request" in locals() else "?", reply)
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(answer, path)
    os.chmod(path, 0o600)
    log.info("node agent listening on %s", path)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="jupyter-hds-node-agent", description=__doc__)
    parser.add_argument("--socket", default=SOCKET, help=f"unix socket (default {SOCKET})")
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("HDS_STATE_DIR") or STATE_DIR,
        help="the state folder, the same path as on the hub (default: $HDS_STATE_DIR, else "
        f"{STATE_DIR})",
    )
    parser.add_argument("--preallocate", action="store_true", help="as c.Quotas.preallocate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(Agent(args.state_dir, args.preallocate), args.socket))


if __name__ == "__main__":
    main()
