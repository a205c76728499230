"""Idle websockets: the server's memory with many open, quiet chat connections.

Connections are spread over conversations the way tabs are (five per conversation, each
conversation its own user), opened a few at a time so the listen backlog is not what is
measured, then left idle for a moment before the server's RSS is read from /proc.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import ClientConnection

from .sizes import Sizes
from .stats import Figure, rss_mb
from .webstack import DaphneServer, Database

NAME = "idle websockets"
TABS = 5
OPENING_AT_ONCE = 20


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    n = sizes.idle_connections
    with Database("sqlite") as db:
        sessions = await asyncio.to_thread(db.setup, max(1, n // TABS), "builtin", "idle")
        with DaphneServer(db) as server:
            first = await server.connect(sessions[0])
            await first.close()
            before = rss_mb(server.pid)["VmRSS"]
            gate = asyncio.Semaphore(OPENING_AT_ONCE)
            opened: list[ClientConnection] = []

            async def open_one(i: int) -> None:
                async with gate:
                    opened.append(await server.connect(sessions[i % len(sessions)]))

            progress(f"{NAME}: opening {n}")
            results = await asyncio.gather(*(open_one(i) for i in range(n)), return_exceptions=True)
            failed = sum(isinstance(r, BaseException) for r in results)
            await asyncio.sleep(2)
            after = rss_mb(server.pid)["VmRSS"]
            await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    per = (after - before) * 1024 / max(1, len(opened))
    return [
        Figure.single(
            NAME, f"server RSS with {len(opened)} idle", after, unit="MB", target="< 200 MB",
            note=f"{before:.0f} MB before, {per:.0f} KB each, {failed} failed",
            extra={"rss_before_mb": before, "kb_per_connection": per, "failed": failed},
        ).judge(after < 200 and failed == 0),
    ]  # fmt: skip
