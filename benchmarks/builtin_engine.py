"""Benchmark 6: the built-in engine alone, turns per second on the project's eval suite.

Runs every case of evals/taskweb.jsonl through the in-process Agent with in-memory tools,
using the suite runner the engine's own tests use (tests/agentcore/backends/memory_tools.py),
so the figure is for the same work the eval judges, and the pass count is reported beside it.
"""

from __future__ import annotations

import importlib
import sys
import time

from .sizes import Sizes
from .stats import ROOT, Figure

NAME = "6 builtin engine"
SUITE = ROOT / "evals" / "taskweb.jsonl"
RUNNER_DIR = ROOT / "tests" / "agentcore" / "backends"


async def run(sizes: Sizes) -> list[Figure]:
    if sizes.eval_rounds <= 0:
        return [Figure.skipped(NAME, "turns per second", "not in this preset")]
    if not SUITE.exists() or not (RUNNER_DIR / "memory_tools.py").exists():
        return [Figure.skipped(NAME, "turns per second", f"{SUITE} or its runner is missing")]
    sys.path.insert(0, str(RUNNER_DIR))
    try:
        memory_tools = importlib.import_module("memory_tools")
    finally:
        sys.path.remove(str(RUNNER_DIR))
    from agentcore.backends.builtin import BuiltinBackend

    backend = BuiltinBackend()
    cases = memory_tools.load_suite(SUITE)
    turn_ms: list[float] = []
    passed = 0
    started = time.perf_counter()
    for _ in range(sizes.eval_rounds):
        for case in cases:
            result = await memory_tools.run_case(case, backend)
            passed += result.passed
            turn_ms.extend(s * 1000 for s in result.turn_seconds)
    wall = time.perf_counter() - started
    rate = len(turn_ms) / wall
    note = f"{len(cases)} cases, {passed}/{len(cases) * sizes.eval_rounds} passed"
    return [
        Figure.single(NAME, "turns per second", rate, unit="turns/s", note=note),
        Figure.of(NAME, "time per turn", turn_ms, note=note),
    ]
