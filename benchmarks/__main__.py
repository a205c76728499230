"""`python -m benchmarks [--quick] [--json OUT]`: run every benchmark, print one table, write JSON.

Benchmarks run one after another (never side by side: they would measure each other), each
in a fresh daphne/upstream process where it needs one. A benchmark that crashes is reported
as a MISS with its error, and the others still run, so one broken piece never hides the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from agentcore.compat import UTC

from . import (
    builtin_engine,
    client_overhead,
    concurrency,
    e2e,
    floor,
    idle,
    long_conversation,
    loop_overhead,
    streaming,
)
from .procfs import load_average
from .report import Progress, markdown_table
from .sizes import PRESETS, Sizes
from .stats import Figure, machine

Runner = Callable[..., Awaitable[list[Figure]]]
BENCHMARKS: list[tuple[str, Runner, bool]] = [
    # (label, run, takes a progress callback)
    (loop_overhead.NAME, loop_overhead.run, False),
    (client_overhead.NAME, client_overhead.run, False),
    (e2e.NAME, e2e.run, True),
    (streaming.NAME, streaming.run, True),
    (concurrency.NAME, concurrency.run, True),
    (builtin_engine.NAME, builtin_engine.run, False),
    (idle.NAME, idle.run, True),
    (floor.NAME, floor.run, True),
    (long_conversation.NAME, long_conversation.run, True),
]


def chosen(only: str | None) -> list[tuple[str, Runner, bool]]:
    """The benchmarks whose label starts with one of `only`'s comma-separated prefixes."""
    if not only:
        return BENCHMARKS
    prefixes = [p.strip() for p in only.split(",") if p.strip()]
    return [b for b in BENCHMARKS if any(b[0].startswith(p) for p in prefixes)]


async def run_all(
    sizes: Sizes, progress: Progress, benchmarks: list[tuple[str, Runner, bool]]
) -> list[Figure]:
    figures: list[Figure] = []
    for label, runner, wants_progress in benchmarks:
        progress.step(label)
        try:
            if wants_progress:
                figures.extend(await runner(sizes, progress.show))
            else:
                figures.extend(await runner(sizes))
        except Exception as exc:  # report and go on: the other benchmarks still count
            traceback.print_exc(file=sys.stderr)
            figures.append(
                Figure(benchmark=label, name="benchmark crashed", verdict="MISS",
                       note=f"{type(exc).__name__}: {exc}"[:200])
            )  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="fewer samples, every scenario")
    group.add_argument("--preset", choices=sorted(PRESETS), help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="OUT", help="write every figure and the machine here")
    parser.add_argument(
        "--only", metavar="PREFIXES",
        help="run only the benchmarks whose label starts so, e.g. --only '7,8' or --only idle",
    )  # fmt: skip
    args = parser.parse_args(argv)
    benchmarks = chosen(args.only)
    if not benchmarks:
        parser.error(f"--only {args.only!r} names no benchmark: " + ", ".join(
            label for label, _, _ in BENCHMARKS))  # fmt: skip
    preset = args.preset or ("quick" if args.quick else "full")
    sizes = PRESETS[preset]
    os.chdir(Path(__file__).resolve().parents[1])  # subprocesses find `benchmarks` and manage.py
    progress = Progress(len(benchmarks))
    started = time.monotonic()
    load_before = load_average()
    figures = asyncio.run(run_all(sizes, progress, benchmarks))
    progress.done()
    wall = time.monotonic() - started
    load_after = load_average()
    command = "python -m benchmarks" + (" --quick" if preset == "quick" else "")
    command += f" --only {args.only!r}" if args.only else ""
    print(f"\n{command} — {preset} run, {wall:.0f}s")
    print(f"load average (1/5/15 min): {load_before} before, {load_after} after\n")
    print(markdown_table(figures))
    missed = [f for f in figures if f.verdict == "MISS"]
    print(f"\n{len(missed)} target(s) missed" if missed else "\nevery target met")
    if args.json:
        report: dict[str, Any] = {
            "command": command,
            "preset": preset,
            "started_at": datetime.now(UTC).isoformat(),
            "wall_s": wall,
            "load_average": {"before": load_before, "after": load_after},
            "machine": machine(),
            "figures": [f.to_dict() for f in figures],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
