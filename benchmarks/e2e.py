"""Benchmark 3: message → `final` through the whole web stack, built-in engine.

Websocket clients (one per conversation, each conversation its own user) talk to a real
daphne process; every event is persisted as in production before it is published. Run on
SQLite with the in-memory channel layer, then on PostgreSQL with Redis when both are up,
where the database connections before and after the run are counted too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .sizes import Sizes
from .stats import Figure
from .webstack import DaphneServer, Database, TurnResult, postgres_and_redis_reachable, turn

NAME = "3 end to end"
MESSAGE = "Add a task to buy milk tomorrow"
TARGETS = {1: 50.0, 50: 250.0}


async def _conversation(
    server: DaphneServer, session: dict[str, Any], messages: int
) -> list[TurnResult]:
    async with await server.connect(session) as ws:
        return [await turn(ws, MESSAGE) for _ in range(messages)]


async def _level(server: DaphneServer, db: Database, label: str, n: int, sizes: Sizes) -> Figure:
    sessions = await asyncio.to_thread(db.setup, n, "builtin", f"e2e{n}")
    results = await asyncio.gather(
        *(_conversation(server, s, sizes.e2e_messages) for s in sessions)
    )
    flat = [r for rs in results for r in rs]
    samples = [r.to_final_ms for r in flat if r.ok and r.to_final_ms is not None]
    errors = sum(not r.ok for r in flat)
    target = TARGETS.get(n)
    figure = Figure.of(
        NAME, f"{label}: {n} concurrent, message→final", samples,
        target=f"< {target:g} ms p95" if target else "",
        note=f"{errors} errors", extra={"errors": errors},
    )  # fmt: skip
    if target:
        figure.judge(figure.p95 < target and errors == 0)
    return figure


async def _scenario(kind: str, label: str, sizes: Sizes, progress: Any) -> list[Figure]:
    figures = []
    with Database(kind) as db:
        warm = await asyncio.to_thread(db.setup, 1, "builtin", "warm")
        with DaphneServer(db) as server:
            await _conversation(server, warm[0], 3)  # first-request imports and caches
            before = db.connection_count()
            for n in sizes.e2e_concurrency:
                progress(f"{NAME}: {label}, {n} concurrent")
                figures.append(await _level(server, db, label, n, sizes))
            after = db.connection_count()
        if before is not None and after is not None:
            figures.append(
                Figure.single(
                    NAME, f"{label}: DB connections opened during the runs", after - before,
                    unit="count", target="0", note=f"{before} before, {after} after",
                ).judge(after - before <= 0)
            )  # fmt: skip
    return figures


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    figures = await _scenario("sqlite", "SQLite+memory", sizes, progress)
    label = "PostgreSQL+Redis"
    if not sizes.e2e_postgres:
        figures.append(Figure.skipped(NAME, label, "not in this preset (full run only)"))
    elif not postgres_and_redis_reachable():
        figures.append(Figure.skipped(NAME, label, "PostgreSQL or Redis not reachable"))
    else:
        figures.extend(await _scenario("postgres", label, sizes, progress))
    return figures
