"""The one table every run prints (also pasted into the README), and the progress line."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from .stats import Figure

COLUMNS = ("benchmark", "figure", "median", "p95", "p99", "n", "target", "verdict")


def _num(value: float, unit: str) -> str:
    if value != value:  # NaN: not measured
        return "-"
    if unit in {"count", "errors"}:
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.0f} {unit}"
    if abs(value) >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.3f} {unit}" if abs(value) < 1 else f"{value:.2f} {unit}"


def rows(figures: Sequence[Figure]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for f in figures:
        single = f.n == 1
        out.append(
            (
                f.benchmark,
                f.name + (f" ({f.note})" if f.verdict == "skip" and f.note else ""),
                _num(f.median, f.unit),
                "" if single else _num(f.p95, f.unit),
                "" if single else _num(f.p99, f.unit),
                str(f.n) if f.n else "",
                f.target,
                f.verdict,
            )
        )
    return out


def markdown_table(figures: Sequence[Figure]) -> str:
    """A GitHub table: what the terminal shows and what the README keeps."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows(figures):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines)


class Progress:
    """One self-overwriting line on stderr: which benchmark runs, and for how long so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.index = 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def step(self, label: str) -> None:
        self.index += 1
        self.show(label)

    def show(self, label: str) -> None:
        elapsed = time.monotonic() - self.started
        text = f"[{self.index}/{self.total}] {elapsed:6.1f}s  {label}"
        if self.tty:
            sys.stderr.write("\r\033[K" + text[:150])
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(f"benchmarks finished in {time.monotonic() - self.started:.1f}s\n")
