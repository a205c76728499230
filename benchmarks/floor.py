"""Benchmark 7: Taskweb beside its floor, server CPU per builtin turn, JSON and HTML.

The same client harness drives, at the same concurrency and in interleaved repetitions,
Taskweb (JSON clients, and browsers' HTML path: htmx's socket without `?format=json`, sending
ws-send's form shape), the plain-SQL floor (the same rows in one trip and 9 statements) and
the echo floor (no database), each served by its own daphne process with the same settings
(`benchmarks.serve`, `benchmarks.floor_apps`). Figures are medians over the repetitions, so a
noisy moment on this shared machine moves one repetition, not the verdict; the load average
at the end of each window is kept beside them. Ratios are taken within a repetition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from .drive import Window, drive, median
from .sizes import Sizes
from .stats import Figure
from .webstack import (
    DaphneServer,
    Database,
    close_sockets,
    on_each_stack,
    open_sockets,
)

NAME = "7 floor"
MESSAGE = "Add a task to buy milk tomorrow"
CPU_RATIO_TARGET = 1.5
HTML_RATIO_TARGET = 1.3


@dataclass
class Variant:
    label: str
    app: str
    html: bool = False
    server: DaphneServer | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)

    def cpu(self) -> list[float]:
        return [w.cpu_ms_per_turn for w in self.windows]


def _ratios(top: Variant, bottom: Variant) -> list[float]:
    return [a / b for a, b in zip(top.cpu(), bottom.cpu(), strict=True) if b > 0]


def _ratio_figure(label: str, ratios: Sequence[float], target: float | None) -> Figure:
    figure = Figure.of(
        NAME, label, ratios, unit="x", target=f"≤ {target:g}x median" if target else "",
        note="per repetition: " + ", ".join(f"{r:.2f}" for r in ratios),
    )  # fmt: skip
    if target is not None:
        figure.judge(bool(ratios) and figure.median <= target)
    return figure


def _variant_figures(kind: str, v: Variant, n: int) -> list[Figure]:
    windows = v.windows
    errors = sum(w.errors for w in windows)
    loads = ", ".join(f"{w.load:.1f}" for w in windows)
    failures = "; ".join(w.failures() for w in windows if w.errors)
    samples = [ms for w in windows for ms in w.to_final_ms()]
    rep_p95 = [Figure.of(NAME, "", w.to_final_ms()).p95 for w in windows]
    connections = sum(w.connections for w in windows)
    figures = [
        Figure.of(
            NAME, f"{kind}: {v.label}, {n} concurrent, server CPU per turn", v.cpu(),
            note=f"median of {len(windows)} repetitions; load {loads}; {errors} errors"
            + (f" ({failures})" if failures else ""),
            extra={"load_1m": [w.load for w in windows], "errors": errors, "failures": failures},
        ),
        Figure.of(
            NAME, f"{kind}: {v.label}, {n} concurrent, message→final", samples,
            note="p95 per repetition: " + ", ".join(f"{p:.0f}" for p in rep_p95),
        ),
        Figure.single(
            NAME, f"{kind}: {v.label}, DB connections opened during the runs", connections,
            unit="count", target="0", note="counted in the server (connection_created)",
        ).judge(connections == 0 and errors == 0),
    ]  # fmt: skip
    if v.app != "echo":
        statements = median([w.statements_per_turn for w in windows])
        figures.append(Figure.single(
            NAME, f"{kind}: {v.label}, SQL statements per turn", statements, unit="count",
            note="executed by the server during the runs (BEGIN counted on SQLite, COMMIT not)",
        ))  # fmt: skip
    return figures


async def _scenario(kind: str, label: str, sizes: Sizes, progress: Any) -> list[Figure]:
    n, messages, reps = sizes.floor_concurrency, sizes.floor_messages, sizes.floor_reps
    variants = [Variant("Taskweb JSON", "taskweb"), Variant("plain SQL", "plainsql")]
    if kind == "sqlite":
        variants += [Variant("echo", "echo"), Variant("Taskweb HTML", "taskweb", html=True)]
    with ExitStack() as stack:
        servers: dict[str, DaphneServer] = {}
        spare: dict[str, list[dict[str, Any]]] = {}
        for v in variants:
            if v.app not in servers:
                db = stack.enter_context(Database(kind))
                wanted = (n * reps + 1) * sum(1 for w in variants if w.app == v.app)
                sessions = await asyncio.to_thread(db.setup, wanted, "builtin", v.app)
                servers[v.app] = stack.enter_context(DaphneServer(db, v.app))
                spare[v.app] = sessions
            v.server = servers[v.app]
            # First turns import modules and fill caches (templates too, for the HTML path).
            warm = await open_sockets(v.server, spare[v.app][:1], html=v.html)
            await drive(v.server, warm, MESSAGE, 3, html=v.html)
            await close_sockets(warm)
            spare[v.app] = spare[v.app][1:]
            v.sessions, spare[v.app] = spare[v.app][: n * reps], spare[v.app][n * reps :]
        for rep in range(reps):
            for v in variants:
                assert v.server is not None
                progress(f"{NAME}: {label}, {v.label}, repetition {rep + 1}/{reps}")
                sockets = await open_sockets(
                    v.server, v.sessions[rep * n : (rep + 1) * n], html=v.html
                )
                v.windows.append(await drive(v.server, sockets, MESSAGE, messages, html=v.html))
                await close_sockets(sockets)
    by_label = {v.label: v for v in variants}
    figures = [f for v in variants for f in _variant_figures(label, v, n)]
    taskweb, plain = by_label["Taskweb JSON"], by_label["plain SQL"]
    figures.append(_ratio_figure(
        f"{label}: Taskweb / plain SQL, CPU per turn", _ratios(taskweb, plain), CPU_RATIO_TARGET
    ))  # fmt: skip
    if "echo" in by_label:
        figures.append(_ratio_figure(
            f"{label}: Taskweb / echo, CPU per turn", _ratios(taskweb, by_label["echo"]), None
        ))  # fmt: skip
        figures.append(_ratio_figure(
            f"{label}: plain SQL / echo, CPU per turn", _ratios(plain, by_label["echo"]), None
        ))  # fmt: skip
    if "Taskweb HTML" in by_label:
        figures.append(_ratio_figure(
            f"{label}: Taskweb HTML / JSON, CPU per turn", _ratios(by_label["Taskweb HTML"],
            taskweb), HTML_RATIO_TARGET,
        ))  # fmt: skip
    return figures


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    return await on_each_stack(
        NAME,
        lambda stack, label: _scenario(stack, label, sizes, progress),
        postgres=sizes.floor_postgres,
        why_not="not in this preset",
    )
