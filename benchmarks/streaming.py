"""Benchmark 4: streaming relay, from a token leaving the model server to the browser's frame.

The conversation's route is `openai_compat` pointed at the scripted upstream in `stream`
mode: it answers a tool call first, then streams tokens that each carry the wall-clock time
their frame was written. The client subtracts that from the time the websocket frame
arrived (one machine, one clock). The tool result's relay is measured the same way, from the
event's own timestamp, with 1 and with 50 chats streaming at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .drive import drive
from .sizes import Sizes
from .stats import Figure
from .upstream import Upstream
from .webstack import DaphneServer, Database, TurnResult, close_sockets, open_sockets

NAME = "4 streaming relay"
MESSAGE = "Add a task and tell me about it"
TOKEN_DELAY_S = 0.005
"""Spacing of streamed tokens (~200 tokens/s, a fast local model)."""


def _relays(results: list[TurnResult]) -> tuple[list[float], list[float], int]:
    tokens, tools, errors = [], [], 0
    for result in results:
        errors += not result.ok
        for arrived, event in result.events:
            if event["type"] == "token":
                for stamp in str(event["payload"].get("text", "")).split():
                    tokens.append((arrived - float(stamp)) * 1000)
            elif event["type"] == "tool_result":
                tools.append((arrived - float(event["ts"])) * 1000)
    return tokens, tools, errors


async def run(sizes: Sizes, progress: Any = print) -> list[Figure]:
    figures = []
    with (
        Upstream(mode="stream", tokens=sizes.stream_tokens, token_delay=TOKEN_DELAY_S) as up,
        Database("sqlite") as db,
    ):
        route = f"openai_compat:scripted@{up.url}/v1"
        warm = await asyncio.to_thread(db.setup, 1, route, "warm")
        with DaphneServer(db) as server:
            sockets = await open_sockets(server, warm)
            await drive(server, sockets, MESSAGE, 1)
            await close_sockets(sockets)
            for n in sizes.stream_chats:
                progress(f"{NAME}: {n} streaming chats")
                sessions = await asyncio.to_thread(db.setup, n, route, f"stream{n}")
                sockets = await open_sockets(server, sessions)
                window = await drive(server, sockets, MESSAGE, 1)
                await close_sockets(sockets)
                tokens, tools, errors = _relays(window.results)
                note = f"{errors} errors, {window.wall_s:.2f}s wall, load {window.load:.1f}"
                token = Figure.of(
                    NAME, f"token → frame, {n} chats", tokens, target="< 10 ms p95", note=note
                )
                figures.append(token.judge(token.p95 < 10 and errors == 0))
                tool = Figure.of(NAME, f"tool result → frame, {n} chats", tools, note=note)
                if n >= 50:
                    tool.target = "< 5 ms p95"
                    tool.judge(tool.p95 < 5 and errors == 0)
                figures.append(tool)
                figures.append(Figure.single(
                    NAME, f"server CPU per turn, {n} chats", window.cpu_ms_per_turn,
                    note=f"{sizes.stream_tokens} tokens a turn",
                ))  # fmt: skip
    return figures
