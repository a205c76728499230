"""Benchmark 8: does turn N cost what turn 2 costs? Long conversations through the full app.

A few conversations (JSON clients, SQLite, built-in engine) are driven side by side, turn by
turn, to `long_turns` turns each; the server's CPU is read between turns. The cost of the
first turns (2 onwards) is compared with the cost of the last ones: a turn that reads or
sends its whole history grows with it. Windows of several turns, since /proc counts CPU in
10 ms ticks. A second figure comes from `benchmarks.history_read`, which times the history
reads alone, in process, on the same kind of rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from .drive import Window, drive
from .history_read import WINDOW_FULL
from .sizes import Sizes
from .stats import ROOT, Figure
from .webstack import SERVER_ENV, DaphneServer, Database, close_sockets, open_sockets

NAME = "8 long conversation"
MESSAGE = "Add a task to buy milk tomorrow"
RATIO_TARGET = 1.2


def _window_cpu(windows: list[Window], first: int, last: int) -> tuple[float, float]:
    """CPU ms per turn, and median message→final, over turns `first`..`last` (1-based)."""
    chosen = windows[first - 1 : last]
    turns = sum(w.turns for w in chosen)
    cpu = sum(w.cpu_s for w in chosen) * 1000 / max(1, turns)
    latency = Figure.of(NAME, "", [ms for w in chosen for ms in w.to_final_ms()]).median
    return cpu, latency


async def _full_app(sizes: Sizes, progress: Any) -> list[Figure]:
    n, turns, width = sizes.long_conversations, sizes.long_turns, sizes.long_window
    with Database("sqlite") as db:
        sessions = await asyncio.to_thread(db.setup, n + 1, "builtin", "long")
        with DaphneServer(db) as server:
            warm = await open_sockets(server, sessions[-1:])
            await drive(server, warm, MESSAGE, 3)
            await close_sockets(warm)
            sockets = await open_sockets(server, sessions[:n])
            windows: list[Window] = []
            for i in range(turns):
                if i % 20 == 0:
                    progress(f"{NAME}: {n} conversations, turn {i + 1}/{turns}")
                windows.append(await drive(server, sockets, MESSAGE, 1))
            await close_sockets(sockets)
    errors = sum(w.errors for w in windows)
    early = (2, min(turns, 1 + width))
    late = (max(1, turns - width + 1), turns)
    early_cpu, early_ms = _window_cpu(windows, *early)
    late_cpu, late_ms = _window_cpu(windows, *late)
    ratio = late_cpu / early_cpu if early_cpu else float("nan")
    span = f"turns {late[0]}-{late[1]} / turns {early[0]}-{early[1]}"
    return [
        Figure.single(
            NAME, f"full app: server CPU per turn, turns {early[0]}-{early[1]}", early_cpu,
            note=f"{n} conversations side by side; message→final median {early_ms:.1f} ms",
        ),
        Figure.single(
            NAME, f"full app: server CPU per turn, turns {late[0]}-{late[1]}", late_cpu,
            note=f"{errors} errors; message→final median {late_ms:.1f} ms",
        ),
        Figure.single(
            NAME, f"full app: CPU per turn, {span}", ratio, unit="x",
            target=f"≤ {RATIO_TARGET}x",
        ).judge(ratio <= RATIO_TARGET and errors == 0),
    ]  # fmt: skip


def _history_reads(sizes: Sizes) -> list[Figure]:
    db = Database("sqlite")
    with db:
        env = {**os.environ, **SERVER_ENV, **db.env}
        env.pop("REDIS_URL", None)
        command = [sys.executable, "-m", "benchmarks.history_read", "--turns",
                   str(sizes.long_turns)]  # fmt: skip
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"history_read failed:\n{done.stderr[-3000:]}")
    result: dict[str, dict[str, list[float]]] = json.loads(done.stdout.strip().splitlines()[-1])
    figures: list[Figure] = []
    last = str(sizes.long_turns)
    for reader, by_turn in result.items():
        turns = {t: Figure.of(NAME, f"history read alone ({reader}): turn {t}", ms)
                 for t, ms in by_turn.items()}  # fmt: skip
        figures += turns.values()
        for base in ("2", str(WINDOW_FULL)):
            if base in turns and base != last:
                ratio = turns[last].median / turns[base].median
                figures.append(Figure.single(
                    NAME, f"history read alone ({reader}): turn {last} / turn {base}", ratio,
                    unit="x", note="in process, no web stack; the default window fills by turn 10",
                ))  # fmt: skip
    return figures


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    figures = await _full_app(sizes, progress)
    progress(f"{NAME}: history reads alone")
    figures += await asyncio.to_thread(_history_reads, sizes)
    return figures
