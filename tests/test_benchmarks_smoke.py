"""The benchmark harness runs end to end on its smallest preset and writes valid JSON.

Untimed on purpose: it checks that every benchmark still runs against the app (a daphne
process, the scripted upstream, websocket clients) and that the report has its shape; speed is
what `make bench` reports, never what a test asserts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("websockets", reason="websockets is in requirements-dev.txt")


def test_the_smallest_benchmark_run_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--preset", "smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| benchmark | figure | median | p95 | p99 | n | target | verdict |" in done.stdout
    report = json.loads(out.read_text())
    assert report["preset"] == "smoke"
    assert {"cpu_model", "cores", "memory_mb", "python", "packages"} <= set(report["machine"])
    figures = report["figures"]
    crashed = [f for f in figures if f["name"] == "benchmark crashed"]
    assert not crashed, crashed
    benchmarks = {f["benchmark"] for f in figures}
    assert len(benchmarks) == 7
    for figure in figures:
        assert {"median", "p95", "p99", "min", "max", "n", "target", "verdict"} <= set(figure)
        assert figure["verdict"] in {"pass", "MISS", "info", "skip"}
