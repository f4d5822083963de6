"""The node agent's answers, on real loop-mounted volumes (as root, like the volume tests)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jupyter_hds.node_agent import Agent, serve

M = 2**20


def mounted(path: Path) -> bool:
    table = Path("/proc/self/mountinfo").read_text().splitlines()
    return any(line.split()[4] == str(path) for line in table)


def test_ensure_mounts_the_volume_with_the_members_folders_and_release_unmounts(tmp_path):
    agent = Agent(tmp_path)
    request = {"op": "ensure", "project": "p", "size": 64 * M, "in_use": False,
               "member": "ann", "uid": 1000, "gid": 1000}  # fmt: skip
    try:
        reply = agent.handle(request)
        assert reply["ok"] and reply["usage"]["size"] == 64 * M and reply["usage"]["mounted"]
        work = tmp_path / "projects" / "p" / "users" / "ann"
        assert mounted(tmp_path / "projects" / "p") and work.is_dir()
        assert (work.stat().st_uid, work.stat().st_mode & 0o777) == (1000, 0o770)
        kept = agent.handle({"op": "release", "project": "p", "unmount": False})
        assert kept["ok"] and not kept["unmounted"] and mounted(tmp_path / "projects" / "p")
        released = agent.handle({"op": "release", "project": "p", "unmount": True})
        assert released["unmounted"] and not mounted(tmp_path / "projects" / "p")
        assert released["usage"]["used"] > 0
    finally:
        agent.volumes.unmount("p")


def test_refusals_are_answers_that_say_why(tmp_path):
    agent = Agent(tmp_path)
    assert agent.handle({"op": "format"}) == {
        "ok": False, "error": "unknown", "message": "unknown op {'op': 'format'}",
    }  # fmt: skip
    bad = agent.handle({"op": "usage", "project": "../etc"})
    assert bad["ok"] is False and "cannot name a project volume" in bad["message"]
    missing = agent.handle({"op": "ensure", "project": "p"})
    assert missing["ok"] is False and missing["error"] == "unavailable"


async def test_the_socket_speaks_one_json_line_each_way(tmp_path):
    socket = tmp_path / "run" / "agent.sock"
    server = asyncio.create_task(serve(Agent(tmp_path), str(socket)))
    try:
        while not socket.exists():
            await asyncio.sleep(0.01)
        assert socket.stat().st_mode & 0o777 == 0o600
        assert socket.parent.stat().st_mode & 0o777 == 0o700
        reader, writer = await asyncio.open_unix_connection(str(socket))
        writer.write(json.dumps({"op": "usage", "project": "none"}).encode() + b"\n")
        assert json.loads(await reader.readline()) == {"ok": True, "usage": None}
        writer.close()
    finally:
        server.cancel()
