"""One timed window: open sockets send their turns; the server's CPU and counters around it.

Every web benchmark measures the same way: sockets are connected first (outside the window),
then each sends `messages` turns one after another, all sockets at once; server CPU (from
/proc) and the server's own counters (connections opened, statements) are read just before
and just after, so a figure per turn is the server's work for those turns and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection

from .procfs import CpuWindow
from .webstack import DaphneServer, TurnResult, turn, turn_html


@dataclass
class Window:
    """What one timed window measured."""

    results: list[TurnResult] = field(default_factory=list)
    cpu_s: float = 0.0
    """Server CPU (utime + stime) during the window."""
    wall_s: float = 0.0
    connections: int = 0
    """Database connections the server opened during the window."""
    statements: int = 0
    """SQL statements the server executed during the window."""
    load: float = 0.0
    """1-minute load average at the window's end (the machine is shared)."""

    @property
    def turns(self) -> int:
        return len(self.results)

    @property
    def errors(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def cpu_ms_per_turn(self) -> float:
        return self.cpu_s * 1000 / max(1, self.turns)

    @property
    def statements_per_turn(self) -> float:
        return self.statements / max(1, self.turns)

    def failures(self) -> str:
        """Why turns failed: refusal codes, final statuses and client errors, counted."""
        reasons = Counter(r.refusal or r.status or "no end" for r in self.results if not r.ok)
        return ", ".join(f"{reason} x{n}" for reason, n in reasons.most_common())

    def to_final_ms(self) -> list[float]:
        return [r.to_final_ms for r in self.results if r.ok and r.to_final_ms is not None]


async def _turns(ws: ClientConnection, text: str, messages: int, html: bool) -> list[TurnResult]:
    send = turn_html if html else turn
    results: list[TurnResult] = []
    for _ in range(messages):
        try:
            result = await send(ws, text)
        except Exception as exc:  # a dropped socket is an error to count, not a crash
            result = TurnResult(sent=time.time(), refusal=type(exc).__name__)
        results.append(result)
        if not result.ok:
            break
    return results


async def drive(
    server: DaphneServer,
    sockets: Sequence[ClientConnection],
    text: str,
    messages: int,
    *,
    html: bool = False,
) -> Window:
    """Every socket sends `messages` turns (each after the last ended); measure the window."""
    return await drive_split([(server, sockets)], text, messages, html=html)


async def drive_split(
    shares: Sequence[tuple[DaphneServer, Sequence[ClientConnection]]],
    text: str,
    messages: int,
    *,
    html: bool = False,
) -> Window:
    """`drive` over several server processes at once, each with its own sockets: one window,
    the CPU and counters of every process summed."""
    window = Window()
    servers = [server for server, _ in shares]
    sockets = [ws for _, share in shares for ws in share]
    before = await asyncio.gather(*(asyncio.to_thread(s.counters) for s in servers))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with CpuWindow([s.pid for s in servers]) as cpu:
        per_socket = await asyncio.gather(*(_turns(ws, text, messages, html) for ws in sockets))
    window.wall_s = loop.time() - started
    after = await asyncio.gather(*(asyncio.to_thread(s.counters) for s in servers))
    window.cpu_s = cpu.seconds
    window.results = [r for rs in per_socket for r in rs]
    pairs = list(zip(after, before, strict=True))
    window.connections = sum(a["connections"] - b["connections"] for a, b in pairs)
    window.statements = sum(a["statements"] - b["statements"] for a, b in pairs)
    window.load = os.getloadavg()[0]
    return window


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
