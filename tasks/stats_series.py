"""Plot series for /stats/: cost and fallback rate per time bucket, latency histogram.

Apart from `stats.py` so each module stays small; these only bin numbers that `stats.py`
already computed, and Chart.js (vendored) draws them in the browser.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

if TYPE_CHECKING:
    from .stats import Period, PeriodStats, ProfileStats

LATENCY_EDGES_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000)
"""Upper bounds of the latency histogram's bins; a last bin takes everything slower."""


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Buckets:
    """Time buckets of a period, for the cost and fallback plots."""

    def __init__(self, period: Period, start: dt.datetime, end: dt.datetime) -> None:
        span = (end - start).total_seconds()
        hours = {"24h": 1, "7d": 6}.get(period, 24 if span <= 90 * 86400 else 24 * 7)
        self.size = hours * 3600
        self.first = math.floor(start.timestamp() / self.size)
        self.last = math.floor(end.timestamp() / self.size)
        self.hourly = hours < 24
        self.cost: defaultdict[str, defaultdict[int, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal)
        )
        self.attempted: defaultdict[str, defaultdict[int, set[int]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.fell_back: defaultdict[str, defaultdict[int, set[int]]] = defaultdict(
            lambda: defaultdict(set)
        )

    def index(self, when: dt.datetime) -> int:
        return math.floor(when.timestamp() / self.size)

    def add_cost(self, when: dt.datetime, name: str, amount: Decimal) -> None:
        self.cost[name][self.index(when)] += amount

    def add_attempt(self, when: dt.datetime, name: str, run_id: int) -> None:
        self.attempted[name][self.index(when)].add(run_id)

    def add_fallback(self, when: dt.datetime, name: str, run_id: int) -> None:
        self.fell_back[name][self.index(when)].add(run_id)

    def labels(self) -> list[str]:
        fmt = "%m-%d %H:%M" if self.hourly else "%Y-%m-%d"
        return [
            timezone.localtime(
                dt.datetime.fromtimestamp(i * self.size, tz=dt.timezone.utc)
            ).strftime(fmt)
            for i in range(self.first, self.last + 1)
        ]

    def series(self, stats: PeriodStats) -> dict[str, Any]:
        """JSON-ready series: dollars per bucket per profile, fallback rate per bucket."""
        indexes = range(self.first, self.last + 1)
        names = [p.name for p in stats.rows if p.name]
        cost = {n: [float(self.cost[n][i]) for i in indexes] for n in names if n in self.cost}
        fallback = {
            n: [rate(len(self.fell_back[n][i]), len(self.attempted[n][i])) for i in indexes]
            for n in names
            if n in self.attempted
        }
        return {"labels": self.labels(), "cost": cost, "fallback": fallback}


def latency_histogram(rows: Sequence[ProfileStats]) -> dict[str, Any]:
    """Model-call counts per latency bin per profile (bins from LATENCY_EDGES_MS)."""
    labels, low = [], 0
    for edge in LATENCY_EDGES_MS:
        labels.append(f"{_short_ms(low)} to {_short_ms(edge)}")
        low = edge
    labels.append(f"≥ {_short_ms(low)}")
    counts: dict[str, list[int]] = {}
    for row in rows:
        if not row.latency_ms:
            continue
        bins = [0] * (len(LATENCY_EDGES_MS) + 1)
        for value in row.latency_ms:
            bins[sum(1 for edge in LATENCY_EDGES_MS if value >= edge)] += 1
        counts[row.name] = bins
    return {"labels": labels, "counts": counts}


def _short_ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"
