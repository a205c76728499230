"""Benchmark 6: the built-in engine alone, turns per second on the project's eval suite.

Every case of evals/dev.jsonl (its setup tasks, then its turns, at its `now`) runs
through the in-process Agent with in-memory task tools, the ones the engine's own tests use
(tests/agentcore/backends/memory_tools.py), so no database takes part. Judging the answers
is `agent_eval`'s job; this counts turns that ended in a `final` answer.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from datetime import datetime
from typing import Any

from agentcore.loop import Agent
from agentcore.messages import Message, ToolCall

from .sizes import Sizes
from .stats import ROOT, Figure

NAME = "6 builtin engine"
SUITE = ROOT / "evals" / "dev.jsonl"
TOOLS_DIR = ROOT / "tests" / "agentcore" / "backends"


def _memory_tasks_class() -> Any:
    sys.path.insert(0, str(TOOLS_DIR))
    try:
        return importlib.import_module("memory_tools").MemoryTasks
    finally:
        sys.path.remove(str(TOOLS_DIR))


async def _case(case: dict[str, Any], backend: Any, store_class: Any) -> tuple[list[float], int]:
    now = datetime.fromisoformat(case["now"]) if case.get("now") else datetime.now()
    store = store_class(clock=lambda: now)
    ids = []
    for spec in case.get("setup", []):
        spec = dict(spec)
        status = spec.pop("status", "open")
        task = store.create_task(**spec)
        if status == "done":
            store.complete_task(task["id"])
        ids.append(task["id"])
    agent = Agent(backend=backend, tools=store.toolset(), clock=lambda: now)
    approve = bool(case.get("approve", True))

    async def decide(call: ToolCall) -> bool:
        return approve

    messages: list[Message] = []
    seconds, finals = [], 0
    for n, text in enumerate(case["turns"]):
        for i, task_id in enumerate(ids):
            text = text.replace(f"{{task:{i}}}", str(task_id))
        messages.append(Message(role="user", content=text))
        started = time.perf_counter()
        async for event in agent.run(messages, run_id=f"{case['id']}-{n}", approve=decide):
            finals += event.type == "final"
        seconds.append(time.perf_counter() - started)
    return seconds, finals


async def run(sizes: Sizes) -> list[Figure]:
    if sizes.eval_rounds <= 0:
        return [Figure.skipped(NAME, "turns per second", "not in this preset")]
    if not SUITE.exists() or not (TOOLS_DIR / "memory_tools.py").exists():
        return [Figure.skipped(NAME, "turns per second", f"{SUITE} or its tools are missing")]
    from agentcore.backends.builtin import BuiltinBackend

    store_class = _memory_tasks_class()
    backend = BuiltinBackend()
    lines = SUITE.read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    turn_ms: list[float] = []
    finals = 0
    started = time.perf_counter()
    for _ in range(sizes.eval_rounds):
        for case in cases:
            seconds, done = await _case(case, backend, store_class)
            turn_ms.extend(s * 1000 for s in seconds)
            finals += done
    wall = time.perf_counter() - started
    note = f"{len(cases)} cases x {sizes.eval_rounds}, {finals}/{len(turn_ms)} turns answered"
    return [
        Figure.single(NAME, "turns per second", len(turn_ms) / wall, unit="turns/s", note=note),
        Figure.of(NAME, "time per turn", turn_ms, note=note),
    ]
