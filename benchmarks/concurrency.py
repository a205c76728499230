"""Benchmark 5: many conversations on one daphne process, with a slow (300 ms) model.

Each conversation has its own user and its own websocket and sends its turns one after
another; every turn is a tool call then an answer (two model calls), so the ideal wall time
is turns x 2 x 300 ms: everything above that is the app making conversations wait for each
other. The upstream counts the TCP connections it saw, which shows whether the server kept
its HTTP client (one pool) or built new ones on the request path.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .sizes import Sizes
from .stats import Figure, rss_mb
from .upstream import Upstream
from .webstack import DaphneServer, Database, TurnResult, turn

NAME = "5 concurrency"
LATENCY_S = 0.3
MODEL_CALLS_PER_TURN = 2


async def _conversation(
    server: DaphneServer, session: dict[str, Any], turns: int
) -> list[TurnResult]:
    results: list[TurnResult] = []
    try:
        async with await server.connect(session) as ws:
            for i in range(turns):
                results.append(await turn(ws, f"Add a task number {i}"))
    except Exception as exc:  # a dropped socket is an error to count, not a crash
        failed = TurnResult(sent=time.time(), refusal=type(exc).__name__)
        results.append(failed)
    return results


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    n, turns = sizes.load_conversations, sizes.load_turns
    with Upstream(mode="tool", latency=LATENCY_S) as up, Database("sqlite") as db:
        route = f"openai_compat:scripted@{up.url}/v1"
        warm = await asyncio.to_thread(db.setup, 1, route, "warm")
        sessions = await asyncio.to_thread(db.setup, n, route, "load")
        with DaphneServer(db) as server:
            await _conversation(server, warm[0], 1)
            progress(f"{NAME}: {n} conversations x {turns} turns, {LATENCY_S * 1000:g} ms model")
            started = time.monotonic()
            results = await asyncio.gather(*(_conversation(server, s, turns) for s in sessions))
            wall = time.monotonic() - started
            memory = rss_mb(server.pid)
    flat = [r for rs in results for r in rs]
    errors = sum(not r.ok for r in flat) + (n * turns - len(flat))
    ideal = turns * MODEL_CALLS_PER_TURN * LATENCY_S
    ratio = wall / ideal
    turn_ms = [(r.finished - r.sent) * 1000 for r in flat if r.ok and r.finished]
    reasons = sorted({r.refusal or r.status for r in flat if not r.ok})
    return [
        Figure.single(
            NAME, f"{n} conversations: wall / ideal", ratio, unit="x", target="< 1.2x",
            note=f"wall {wall:.2f}s, ideal {ideal:.2f}s",
            extra={"wall_s": wall, "ideal_s": ideal},
        ).judge(ratio < 1.2),
        Figure.of(
            NAME, f"{n} conversations: turn time", turn_ms, note=f"ideal {ideal / turns:.2f}s"
        ),
        Figure.single(
            NAME, f"{n} conversations: errors", errors, unit="errors", target="0",
            note=", ".join(reasons), extra={"reasons": reasons},
        ).judge(errors == 0),
        Figure.single(
            NAME, "server peak RSS (VmHWM)", memory.get("VmHWM", float("nan")), unit="MB",
            target="< 400 MB",
        ).judge(memory.get("VmHWM", 1e9) < 400),
        Figure.single(
            NAME, "upstream TCP connections", up.connections, unit="count",
            note=f"for {n * turns * MODEL_CALLS_PER_TURN} model calls (pool: reused)",
        ),
    ]  # fmt: skip
