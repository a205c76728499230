"""Benchmark 3: message → `final` through the whole web stack, built-in engine.

Websocket clients (one per conversation, each conversation its own user) talk to a real
daphne process; every event is persisted as in production before it is published. Run on
SQLite with the in-memory channel layer, then on PostgreSQL with Redis when both are up.
Sockets connect before each timed window; the server's CPU per turn is read from /proc
around it, and the database connections it opened during the runs are counted in the server
(`benchmarks.serve`) and, on PostgreSQL, by PostgreSQL itself (pg_stat_database.sessions).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .drive import Window, drive
from .sizes import Sizes
from .stats import Figure
from .webstack import (
    DaphneServer,
    Database,
    close_sockets,
    on_each_stack,
    open_sockets,
)

NAME = "3 end to end"
MESSAGE = "Add a task to buy milk tomorrow"
TARGETS = {1: 50.0, 50: 250.0}
STATS_SETTLE_S = 1.5
"""PostgreSQL publishes a backend's session count within a second (PGSTAT_MIN_INTERVAL)."""


async def _level(
    server: DaphneServer, db: Database, label: str, n: int, sizes: Sizes
) -> tuple[list[Figure], Window]:
    sessions = await asyncio.to_thread(db.setup, n, "builtin", f"e2e{n}")
    sockets = await open_sockets(server, sessions)
    window = await drive(server, sockets, MESSAGE, sizes.e2e_messages)
    await close_sockets(sockets)
    target = TARGETS.get(n)
    latency = Figure.of(
        NAME, f"{label}: {n} concurrent, message→final", window.to_final_ms(),
        target=f"< {target:g} ms p95" if target else "",
        note=f"{window.errors} errors {window.failures()}".strip(),
        extra={"errors": window.errors},
    )  # fmt: skip
    if target:
        latency.judge(latency.p95 < target and window.errors == 0)
    cpu = Figure.single(
        NAME, f"{label}: {n} concurrent, server CPU per turn", window.cpu_ms_per_turn,
        note=f"{window.cpu_s:.2f}s CPU / {window.turns} turns in {window.wall_s:.2f}s, "
        f"load {window.load:.1f}",
    )  # fmt: skip
    return [latency, cpu], window


async def _scenario(kind: str, label: str, sizes: Sizes, progress: Any) -> list[Figure]:
    figures: list[Figure] = []
    windows: list[Window] = []
    with Database(kind) as db:
        warm = await asyncio.to_thread(db.setup, 1, "builtin", "warm")
        with DaphneServer(db) as server:
            sockets = await open_sockets(server, warm)
            await drive(server, sockets, MESSAGE, 3)  # first-request imports and caches
            await close_sockets(sockets)
            await asyncio.sleep(STATS_SETTLE_S if kind == "postgres" else 0)
            sessions_before = await asyncio.to_thread(db.sessions_opened)
            for n in sizes.e2e_concurrency:
                progress(f"{NAME}: {label}, {n} concurrent")
                level, window = await _level(server, db, label, n, sizes)
                figures.extend(level)
                windows.append(window)
            # The setup processes between levels connect too: PostgreSQL's count is read
            # for information; the server's own count is the verdict.
            await asyncio.sleep(STATS_SETTLE_S if kind == "postgres" else 0)
            sessions_after = await asyncio.to_thread(db.sessions_opened)
    opened = sum(w.connections for w in windows)
    note = "counted in the server (connection_created) during the timed windows"
    if sessions_before is not None and sessions_after is not None:
        opened_pg = sessions_after - sessions_before
        note += f"; PostgreSQL sessions opened meanwhile, setup included: {opened_pg}"
    figures.append(
        Figure.single(
            NAME, f"{label}: DB connections opened during the runs", opened, unit="count",
            target="0", note=note,
        ).judge(opened == 0)
    )  # fmt: skip
    return figures


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    return await on_each_stack(
        NAME,
        lambda stack, label: _scenario(stack, label, sizes, progress),
        postgres=sizes.e2e_postgres,
        why_not="not in this preset (full and quick only)",
    )
