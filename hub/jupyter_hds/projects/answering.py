"""Wait, polling often, for a started server to answer: JupyterHub's own wait backs off.

After a spawner's start returns, the hub polls the server with an exponential backoff (0.2 s,
then up to 0.4, 0.8, 1.6, 3.2 s between tries, with jitter): a server that answers 2.7 s after
its container started was seen by the hub about a second later (measured by
tests/benchmarks/bench_spawn.py). Polling every 50 ms before the start returns makes the hub's
first try succeed. The server's `/api` answers without a token, as the hub's own check uses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp

INTERVAL = 0.05
ALIVE_EVERY = 1.0  # seconds between checks that the container still runs
# Tries per second, all waiting servers together, at most: twenty servers starting at once
# are tried every 0.25 s each rather than 400 times a second, which would take the CPU the
# servers need to start.
MOST_TRIES = 80
_waiting = 0  # servers waited for now, in this process (one event loop)


async def until_answering(
    url: str,
    timeout: float,
    alive: Callable[[], Awaitable[bool]],
    interval: float = INTERVAL,
) -> bool:
    """True once `url` answers below 500, False when `alive()` says the server is gone or
    `timeout` passes (the hub's own wait then decides, as without this)."""
    global _waiting
    _waiting += 1
    try:
        return await _until_answering(url, timeout, alive, interval)
    finally:
        _waiting -= 1


async def _until_answering(
    url: str, timeout: float, alive: Callable[[], Awaitable[bool]], interval: float
) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_alive = loop.time() + ALIVE_EVERY
    request_timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=request_timeout) as session:
        while loop.time() < deadline:
            try:
                async with session.get(url, allow_redirects=False) as answer:
                    if answer.status < 500:
                        return True
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass  # not listening yet
            if loop.time() >= next_alive:
                if not await alive():
                    return False
                next_alive = loop.time() + ALIVE_EVERY
            await asyncio.sleep(max(interval, _waiting / MOST_TRIES))
    return False
