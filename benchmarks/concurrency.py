"""Benchmark 5: many conversations on one daphne process (then two), with a slow (300 ms) model.

Each conversation has its own user and its own websocket (all connected before the timed
window) and sends its turns one after another; every turn is a tool call then an answer (two
model calls), so the ideal wall time is turns x 2 x 300 ms: everything above that is the app
making conversations wait for each other. The server's CPU during the window gives turns per
core-second, and from it the processes (one core each) that would serve this load within
1.2x the ideal. The upstream counts the TCP connections it saw, which shows whether the
server kept its HTTP client (one pool) or built new ones on the request path.

The same load then runs on two processes (this machine's two cores) sharing PostgreSQL and
Redis, the conversations split between them, when the preset asks for PostgreSQL and both
answer: the projection beside a measurement.
"""

from __future__ import annotations

import asyncio
import math
from contextlib import ExitStack
from typing import Any

from .drive import Window, drive, drive_split
from .sizes import Sizes
from .stats import Figure, rss_mb
from .upstream import Upstream
from .webstack import (
    DaphneServer,
    Database,
    close_sockets,
    open_sockets,
    postgres_and_redis_reachable,
)

NAME = "5 concurrency"
LATENCY_S = 0.3
MODEL_CALLS_PER_TURN = 2
WALL_TARGET = 1.2
PROCESSES = 2
"""Processes of the multi-process run: this machine's cores."""


async def _window(
    kind: str, processes: int, n: int, turns: int, progress: Any
) -> tuple[Window, int, dict[str, float]]:
    """`n` conversations x `turns` on `processes` daphne processes sharing one database (and,
    on PostgreSQL, Redis); each conversation's socket on one process, split evenly."""
    with Upstream(mode="tool", latency=LATENCY_S) as up:  # noqa: SIM117 (read after it stops)
        with Database(kind) as db, ExitStack() as st:
            route = f"openai_compat:scripted@{up.url}/v1"
            warm = await asyncio.to_thread(db.setup, processes, route, "warm")
            sessions = await asyncio.to_thread(db.setup, n, route, "load")
            servers = [st.enter_context(DaphneServer(db)) for _ in range(processes)]
            for server, session in zip(servers, warm, strict=True):
                sockets = await open_sockets(server, [session])
                await drive(server, sockets, "Add a task number 0", 1)
                await close_sockets(sockets)
            shares = [
                (server, await open_sockets(server, sessions[i::processes]))
                for i, server in enumerate(servers)
            ]
            where = f"{processes} processes" if processes > 1 else "1 process"
            progress(f"{NAME}: {n} conversations x {turns} turns on {where}, "
                     f"{LATENCY_S * 1000:g} ms model")  # fmt: skip
            window = await drive_split(shares, "Add a task number 1", turns)
            for _, sockets in shares:
                await close_sockets(sockets)
            memory = rss_mb(servers[0].pid)
    return window, up.connections, memory  # the upstream counts until it stops


def _figures(label: str, window: Window, n: int, turns: int, processes: int) -> list[Figure]:
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
    needed = math.ceil(needed_rate / per_core_s) if per_core_s == per_core_s else 0
    head = f"{label}: {n} conversations"
    return [
        Figure.single(
            NAME, f"{head}: wall / ideal", ratio, unit="x", target=f"< {WALL_TARGET}x",
            note=f"wall {window.wall_s:.2f}s, ideal {ideal:.2f}s, load {window.load:.1f}",
            extra={"wall_s": window.wall_s, "ideal_s": ideal},
        ).judge(ratio < WALL_TARGET),
        Figure.of(NAME, f"{head}: turn time", turn_ms, note=f"ideal {ideal / turns:.2f}s"),
        Figure.single(
            NAME, f"{head}: errors", errors, unit="errors", target="0",
            note=", ".join(reasons), extra={"reasons": reasons},
        ).judge(errors == 0),
        Figure.single(
            NAME, f"{head}: server CPU per turn", window.cpu_ms_per_turn,
            note=f"{window.cpu_s:.2f}s CPU for {window.turns} turns, {processes} process(es)",
        ),
        Figure.single(NAME, f"{head}: turns per core-second", per_core_s, unit="turns/s"),
        Figure.single(
            NAME, f"{head}: processes for {WALL_TARGET}x ideal (projected)", needed,
            unit="count", note=f"{needed_rate:.0f} turns/s needed / {per_core_s:.0f} per core",
        ),
    ]  # fmt: skip


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    n, turns = sizes.load_conversations, sizes.load_turns
    window, connections, memory = await _window("sqlite", 1, n, turns, progress)
    figures = _figures("1 process, SQLite", window, n, turns, 1)
    figures += [
        Figure.single(
            NAME, "server peak RSS (VmHWM)", memory.get("VmHWM", float("nan")), unit="MB",
            target="< 400 MB",
        ).judge(memory.get("VmHWM", 1e9) < 400),
        Figure.single(
            NAME, "upstream TCP connections", connections, unit="count",
            note=f"for {n * turns * MODEL_CALLS_PER_TURN} model calls (pool: reused)",
        ),
    ]  # fmt: skip
    label = f"{PROCESSES} processes, PostgreSQL+Redis"
    if not sizes.e2e_postgres:
        figures.append(Figure.skipped(NAME, label, "not in this preset"))
    elif not postgres_and_redis_reachable():
        figures.append(Figure.skipped(NAME, label, "PostgreSQL or Redis not reachable"))
    else:
        window, _, _ = await _window("postgres", PROCESSES, n, turns, progress)
        figures += _figures(label, window, n, turns, PROCESSES)
    return figures
