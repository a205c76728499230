"""Benchmark 5: many conversations on one daphne process, with a slow (300 ms) model.

Each conversation has its own user and its own websocket (all connected before the timed
window) and sends its turns one after another; every turn is a tool call then an answer (two
model calls), so the ideal wall time is turns x 2 x 300 ms: everything above that is the app
making conversations wait for each other. The server's CPU during the window gives turns per
core-second, and from it the processes (one core each) that would serve this load within
1.2x the ideal. The upstream counts the TCP connections it saw, which shows whether the
server kept its HTTP client (one pool) or built new ones on the request path.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from .drive import drive
from .sizes import Sizes
from .stats import Figure, rss_mb
from .upstream import Upstream
from .webstack import DaphneServer, Database, close_sockets, open_sockets

NAME = "5 concurrency"
LATENCY_S = 0.3
MODEL_CALLS_PER_TURN = 2
WALL_TARGET = 1.2


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    n, turns = sizes.load_conversations, sizes.load_turns
    with Upstream(mode="tool", latency=LATENCY_S) as up, Database("sqlite") as db:
        route = f"openai_compat:scripted@{up.url}/v1"
        warm = await asyncio.to_thread(db.setup, 1, route, "warm")
        sessions = await asyncio.to_thread(db.setup, n, route, "load")
        with DaphneServer(db) as server:
            sockets = await open_sockets(server, warm)
            await drive(server, sockets, "Add a task number 0", 1)
            await close_sockets(sockets)
            sockets = await open_sockets(server, sessions)
            progress(f"{NAME}: {n} conversations x {turns} turns, {LATENCY_S * 1000:g} ms model")
            window = await drive(server, sockets, "Add a task number 1", turns)
            await close_sockets(sockets)
            memory = rss_mb(server.pid)
    flat = window.results
    errors = window.errors + (n * turns - len(flat))
    ideal = turns * MODEL_CALLS_PER_TURN * LATENCY_S
    ratio = window.wall_s / ideal
    turn_ms = [(r.finished - r.sent) * 1000 for r in flat if r.ok and r.finished]
    reasons = sorted({r.refusal or r.status for r in flat if not r.ok})
    per_core_s = window.turns / window.cpu_s if window.cpu_s else float("nan")
    # Turns per second the load asks for to finish within 1.2x the ideal, over what one
    # process (one core, one GIL) serves per second.
    needed_rate = n * turns / (WALL_TARGET * ideal)
    processes = math.ceil(needed_rate / per_core_s) if per_core_s == per_core_s else 0
    return [
        Figure.single(
            NAME, f"{n} conversations: wall / ideal", ratio, unit="x", target=f"< {WALL_TARGET}x",
            note=f"wall {window.wall_s:.2f}s, ideal {ideal:.2f}s, load {window.load:.1f}",
            extra={"wall_s": window.wall_s, "ideal_s": ideal},
        ).judge(ratio < WALL_TARGET),
        Figure.of(
            NAME, f"{n} conversations: turn time", turn_ms, note=f"ideal {ideal / turns:.2f}s"
        ),
        Figure.single(
            NAME, f"{n} conversations: errors", errors, unit="errors", target="0",
            note=", ".join(reasons), extra={"reasons": reasons},
        ).judge(errors == 0),
        Figure.single(
            NAME, f"{n} conversations: server CPU per turn", window.cpu_ms_per_turn,
            note=f"{window.cpu_s:.2f}s CPU for {window.turns} turns",
        ),
        Figure.single(
            NAME, f"{n} conversations: turns per core-second", per_core_s, unit="turns/s",
        ),
        Figure.single(
            NAME, f"{n} conversations: processes for {WALL_TARGET}x ideal (projected)", processes,
            unit="count", note=f"{needed_rate:.0f} turns/s needed / {per_core_s:.0f} per core; "
            "not run on N processes: 2 shared cores",
        ),
        Figure.single(
            NAME, "server peak RSS (VmHWM)", memory.get("VmHWM", float("nan")), unit="MB",
            target="< 400 MB",
        ).judge(memory.get("VmHWM", 1e9) < 400),
        Figure.single(
            NAME, "upstream TCP connections", up.connections, unit="count",
            note=f"for {n * turns * MODEL_CALLS_PER_TURN} model calls (pool: reused)",
        ),
    ]  # fmt: skip
