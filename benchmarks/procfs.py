"""What a server process costs, read from /proc: CPU seconds, and the machine's load.

Server CPU is read around a timed window only (setup, connects and warm-up fall outside),
so that "CPU per turn" is the server's own work for the turns of that window, whatever the
benchmark's clients and the other users of this shared machine are doing at the time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads (dead ones too), in seconds.

    The resolution is one clock tick (10 ms at 100 Hz): a window must hold many turns.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / TICKS


class CpuWindow:
    """`with CpuWindow(pids) as cpu: ...` then `cpu.seconds`: the processes' CPU in between."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = list(pids)
        self.seconds = 0.0
        self._start = 0.0

    def _total(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def __enter__(self) -> CpuWindow:
        self._start = self._total()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = self._total() - self._start


def load_average() -> str:
    """The 1/5/15-minute load averages, as printed beside each run (this machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"
