"""The benchmark harness runs end to end on its smallest preset and writes valid JSON.

Untimed on purpose: it checks that every benchmark still runs against the app (daphne
processes serving Taskweb and its floors, the scripted upstream, websocket clients in JSON
and in htmx's HTML shape) and that the report has its shape and its comparisons; speed is
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


@pytest.mark.live
def test_the_smallest_benchmark_run_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--preset", "smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a smoke run takes ~1 min alone; this machine is shared
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| benchmark | figure | median | p95 | p99 | n | target | verdict |" in done.stdout
    assert "load average" in done.stdout
    report = json.loads(out.read_text())
    assert report["preset"] == "smoke"
    assert {"cpu_model", "cores", "memory_mb", "python", "packages"} <= set(report["machine"])
    figures = report["figures"]
    crashed = [f for f in figures if f["name"] == "benchmark crashed"]
    assert not crashed, crashed
    benchmarks = {f["benchmark"] for f in figures}
    assert len(benchmarks) == 9
    for figure in figures:
        assert {"median", "p95", "p99", "min", "max", "n", "target", "verdict"} <= set(figure)
        assert figure["verdict"] in {"pass", "MISS", "info", "skip"}
    by_name = {f["name"]: f for f in figures}
    # Every client kind and floor was driven to completed turns, and measured.
    for variant in ("Taskweb JSON", "Taskweb HTML", "plain SQL", "echo"):
        cpu = by_name[f"SQLite+memory: {variant}, 2 concurrent, server CPU per turn"]
        assert cpu["n"] == 1 and cpu["median"] is not None and cpu["median"] >= 0
        assert cpu["extra"]["errors"] == 0
        opened = by_name[f"SQLite+memory: {variant}, DB connections opened during the runs"]
        assert opened["verdict"] == "pass", opened
    # The plain-SQL floor writes a turn's rows in 9 statements (+ SQLite's BEGIN), as it says.
    assert by_name["SQLite+memory: plain SQL, SQL statements per turn"]["median"] == 10
    assert by_name["SQLite+memory: Taskweb / plain SQL, CPU per turn"]["target"]
    assert by_name["SQLite+memory: Taskweb HTML / JSON, CPU per turn"]["target"]
    bounded = by_name["history read alone (bounded window): turn 4"]
    assert bounded["n"] > 0
