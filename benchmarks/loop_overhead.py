"""Benchmark 1: the agent loop's own cost per step, with an instant in-process model.

One turn is model → tool call → in-memory tool → model → final (two model steps). The same
number of raw `backend.stream()` calls, on the same requests, is timed alone; the difference,
divided by the steps, is what the loop adds (events, parsing, validation, context fitting).
No database and no network take part.
"""

from __future__ import annotations

import time
from typing import Any

from agentcore.backends.base import ModelRequest
from agentcore.loop import Agent
from agentcore.messages import Message, ToolCall
from agentcore.testing.scripted import CallInfo, ScriptedBackend, Turn
from agentcore.tools import Tool, ToolSet

from .sizes import Sizes
from .stats import Figure

NAME = "1 loop overhead"
STEPS_PER_TURN = 2
CALL = ToolCall(id="call_1", name="create_task", arguments={"title": "Buy milk"})


def respond(request: ModelRequest, info: CallInfo) -> Turn:
    """A tool call for a user message, a short answer once the tool has answered."""
    if request.messages[-1].role == "user":
        return CALL
    return "Added “Buy milk” to your list."


def memory_tools() -> ToolSet:
    tasks: list[dict[str, Any]] = []

    def create_task(title: str, priority: str = "medium") -> dict[str, Any]:
        """Create a task (in memory: the ORM is not what this benchmark measures)."""
        task = {"id": len(tasks) + 1, "title": title, "priority": priority}
        tasks.append(task)
        return task

    return ToolSet.of([Tool.from_function(create_task)])


async def _turn(agent: Agent) -> float:
    messages = [Message(role="user", content="add buy milk")]
    started = time.perf_counter()
    async for _event in agent.run(messages, run_id="bench"):
        pass
    return time.perf_counter() - started


async def _raw(backend: ScriptedBackend, requests: list[ModelRequest]) -> float:
    started = time.perf_counter()
    for request in requests:
        async for _chunk in backend.stream(request):
            pass
    return time.perf_counter() - started


async def run(sizes: Sizes) -> list[Figure]:
    backend = ScriptedBackend(respond)
    agent = Agent(backend=backend, tools=memory_tools())
    for _ in range(min(50, sizes.loop_turns)):  # warm caches (pydantic, regexes)
        await _turn(agent)
    backend.calls.clear()
    await _turn(agent)
    requests = list(backend.calls)  # the exact requests the loop sends in one turn
    turns, raws = [], []
    for _ in range(sizes.loop_turns):  # interleaved, so drift hits both alike
        turns.append(await _turn(agent))
        raws.append(await _raw(backend, requests))
        backend.calls.clear()
    added = [(t - r) / STEPS_PER_TURN * 1000 for t, r in zip(turns, raws, strict=True)]
    return [
        Figure.of(NAME, "agent turn (2 model steps)", [t * 1000 for t in turns]),
        Figure.of(NAME, "raw backend calls (2)", [r * 1000 for r in raws]),
        Figure.of(NAME, "added per step", added, target="< 1 ms median").judge(
            sorted(added)[len(added) // 2] < 1.0
        ),
    ]
