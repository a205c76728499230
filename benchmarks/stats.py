"""Figures (median/p95/p99/min/max/n against a target) and the machine they were taken on.

One record type for every benchmark, so the table and the JSON are built the same way and a
figure can never be printed without its sample count and its target.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["pass", "MISS", "info", "skip"]
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "Django", "channels", "channels-redis", "daphne", "Twisted", "httpx", "websockets",
    "pydantic", "psycopg", "redis", "asgiref",
)  # fmt: skip


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (no interpolation: a p99 of 50 is a sample)."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


@dataclass(kw_only=True)
class Figure:
    """One measured quantity: its samples' summary, unit, target and verdict."""

    benchmark: str
    """Which benchmark produced it (e.g. `loop overhead`)."""
    name: str
    """What was measured (e.g. `added per step`)."""
    unit: str = "ms"
    median: float = float("nan")
    p95: float = float("nan")
    p99: float = float("nan")
    min: float = float("nan")
    max: float = float("nan")
    n: int = 0
    target: str = ""
    """Human form of the target, e.g. `< 1 ms median`; empty for information only."""
    verdict: Verdict = "info"
    note: str = ""
    """Why a figure was skipped, or how it was computed."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, benchmark: str, name: str, samples: Sequence[float], **kw: Any) -> Figure:
        ordered = sorted(samples)
        figure = cls(benchmark=benchmark, name=name, n=len(ordered), **kw)
        if ordered:
            figure.median = statistics.median(ordered)
            figure.p95 = percentile(ordered, 95)
            figure.p99 = percentile(ordered, 99)
            figure.min, figure.max = ordered[0], ordered[-1]
        return figure

    @classmethod
    def single(cls, benchmark: str, name: str, value: float, **kw: Any) -> Figure:
        """A figure that is one number (a wall time, an RSS, a count)."""
        return cls.of(benchmark, name, [value], **kw)

    @classmethod
    def skipped(cls, benchmark: str, name: str, note: str, target: str = "") -> Figure:
        return cls(benchmark=benchmark, name=name, verdict="skip", note=note, target=target)

    def judge(self, ok: bool) -> Figure:
        self.verdict = "pass" if ok else "MISS"
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: (None if isinstance(v, float) and v != v else v) for k, v in data.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _litellm_version() -> str | None:
    python = ROOT / ".venv-litellm" / "bin" / "python"
    if not python.exists():
        return None
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine() -> dict[str, Any]:
    """The machine and software a run measured, so figures from two runs can be compared."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["litellm (.venv-litellm)"] = _litellm_version()
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mb": _memory_mb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB, from /proc/<pid>/status."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            found[key] = int(value.split()[0]) / 1024
    return found
