"""What a client sees when it connects somewhere, from inside a container or a network namespace."""

from __future__ import annotations

_SCRIPT = r"""
import json, socket, sys
def reach(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=TIMEOUT).close()
        return "open"
    except OSError as error:
        return type(error).__name__
print(json.dumps({t: reach(t) for t in sys.argv[1:]}))
"""


def reach_script(timeout: float = 3) -> str:
    """Python source for `python3 -c`: for each `HOST:PORT` argument, "open" or how connecting
    failed (TimeoutError, ConnectionRefusedError, ...), printed as one JSON object."""
    return _SCRIPT.replace("TIMEOUT", repr(float(timeout)))


REACH = reach_script()
