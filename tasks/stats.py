"""Figures for /stats/: per-profile latency, tokens, cost, fallback and tool-error rates.

Everything is computed in Python from the stored steps of the period's runs, so the numbers
are the ones the trace showed, and the code runs the same on SQLite and PostgreSQL (neither
has a portable percentile aggregate). A period holds at most `MAX_RUNS` runs, the most recent;
the page says when it was capped.

Definitions (shown on the page too):
- a request is one model call (a `model_response` step), attributed to the backend that
  answered it; latency is its total time, TTFT its time to first token;
- fallback rate of a profile: runs in which a `fallback` event (notice fallback or skip) named
  it, over runs that attempted it (a model response, retry, fallback or error named it);
- tool-call error rate: tool calls whose result was an error (invalid arguments, unknown
  tool, a failing tool) over all tool calls, attributed to the backend that asked for them.
  Calls the user rejected are not errors of the model.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from agentcore.percentiles import percentile

from .models import AgentRun, RunStep
from .stats_series import Buckets, latency_histogram, rate

Period = Literal["24h", "7d", "30d", "all"]
PERIODS: dict[str, dt.timedelta | None] = {
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "all": None,
}
MAX_RUNS = 10_000
"""Most recent runs a period may hold: bounds the rows read into memory."""
STEP_TYPES = ("model_response", "tool_call", "tool_result", "retry", "fallback", "error")
REJECTED = "rejected by the user"
STEP_FIELDS = (
    "run_id", "type", "backend", "duration_ms", "ttft_ms", "input_tokens", "output_tokens",
    "cost", "payload__tokens_estimated", "payload__error", "payload__notice",
)  # fmt: skip


def parse_period(value: str | None) -> Period:
    return value if value in PERIODS else "7d"  # type: ignore[return-value]


def period_start(period: Period, now: dt.datetime) -> dt.datetime | None:
    span = PERIODS[period]
    return None if span is None else now - span


def runs_in_scope(
    *, user: AbstractBaseUser, all_users: bool, since: dt.datetime | None
) -> QuerySet[AgentRun]:
    """The ownership gate for figures: a user's own runs; every run only for staff who ask."""
    runs = AgentRun.objects.all()
    if not (all_users and getattr(user, "is_staff", False)):
        runs = runs.filter(conversation__owner_id=user.pk)
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    return runs


def steps_in_scope(
    *, user: AbstractBaseUser, all_users: bool, since: dt.datetime | None
) -> QuerySet[RunStep]:
    """Steps of the runs in scope (a period selects runs by their start, steps follow).

    Built on `runs_in_scope`, so the ownership gate is written once.
    """
    return RunStep.objects.filter(
        run__in=runs_in_scope(user=user, all_users=all_users, since=since)
    )


@dataclass
class ProfileStats:
    """One backend profile's figures over the period."""

    name: str
    requests: int = 0
    latency_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    estimated_requests: int = 0
    """Model calls whose server reported no usage: their tokens are estimates."""
    cost: Decimal = Decimal(0)
    runs_attempted: set[int] = field(default_factory=set)
    runs_fell_back: set[int] = field(default_factory=set)
    tool_calls: int = 0
    tool_errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    """Runs this profile answered last, by final status."""

    def latency(self, q: float) -> float | None:
        return percentile(self.latency_ms, q)

    def ttft(self, q: float) -> float | None:
        return percentile(self.ttft_ms, q)

    @property
    def latency_pcts(self) -> dict[str, float | None]:
        return {f"p{q}": self.latency(q) for q in (50, 95, 99)}

    @property
    def ttft_pcts(self) -> dict[str, float | None]:
        return {f"p{q}": self.ttft(q) for q in (50, 95, 99)}

    @property
    def fallback_rate(self) -> float | None:
        return rate(len(self.runs_fell_back), len(self.runs_attempted))

    @property
    def tool_error_rate(self) -> float | None:
        return rate(self.tool_errors, self.tool_calls)

    @property
    def status_counts(self) -> list[tuple[str, int]]:
        """(status, runs), most frequent first (templates cannot call Counter methods)."""
        return self.statuses.most_common()

    @property
    def fallback_pct(self) -> float | None:
        value = self.fallback_rate
        return None if value is None else value * 100

    @property
    def tool_error_pct(self) -> float | None:
        value = self.tool_error_rate
        return None if value is None else value * 100


@dataclass
class PeriodStats:
    period: Period
    since: dt.datetime | None
    now: dt.datetime
    runs: int = 0
    capped: bool = False
    """True when the period held more than MAX_RUNS runs and only the newest were read."""
    statuses: Counter[str] = field(default_factory=Counter)
    profiles: dict[str, ProfileStats] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    first_run: dt.datetime | None = None
    series: dict[str, Any] = field(default_factory=dict)
    histogram: dict[str, Any] = field(default_factory=dict)

    def profile(self, name: str) -> ProfileStats:
        return self.profiles.setdefault(name, ProfileStats(name=name))

    @property
    def rows(self) -> list[ProfileStats]:
        return sorted(self.profiles.values(), key=lambda p: (-p.requests, p.name))

    @property
    def status_counts(self) -> list[tuple[str, int]]:
        return self.statuses.most_common()

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.profiles.values())

    @property
    def estimated_requests(self) -> int:
        return sum(p.estimated_requests for p in self.profiles.values())

    @property
    def observed_days(self) -> Decimal:
        """Days the period covers, for scaling counts to a month."""
        start = self.since or self.first_run or self.now
        return Decimal(str(max((self.now - start).total_seconds(), 0) / 86400))


def period_stats(
    *,
    user: AbstractBaseUser,
    period: Period,
    all_users: bool = False,
    now: dt.datetime | None = None,
) -> PeriodStats:
    """Aggregate the period's runs and steps into per-profile figures and plot series."""
    now = now or timezone.now()
    since = period_start(period, now)
    stats = PeriodStats(period=period, since=since, now=now)
    runs = list(
        runs_in_scope(user=user, all_users=all_users, since=since)
        .order_by("-started_at", "-id")
        .values("id", "status", "answered_by", "started_at")[: MAX_RUNS + 1]
    )
    stats.capped = len(runs) > MAX_RUNS
    runs = runs[:MAX_RUNS]
    if not runs:
        return stats
    stats.first_run = runs[-1]["started_at"]
    started = {r["id"]: r["started_at"] for r in runs}
    for r in runs:
        stats.runs += 1
        stats.statuses[r["status"]] += 1
        if r["answered_by"]:
            stats.profile(r["answered_by"]).statuses[r["status"]] += 1
    steps = (
        steps_in_scope(user=user, all_users=all_users, since=stats.first_run)
        .filter(type__in=STEP_TYPES)
        .order_by("run_id", "seq")
        .values(*STEP_FIELDS)
    )
    buckets = Buckets(period, since or stats.first_run, now)
    answering: dict[int, str] = {}
    for step in steps.iterator(chunk_size=2000):
        run_id = step["run_id"]
        if run_id not in started:
            continue
        _account(stats, buckets, step, started[run_id], answering)
    stats.series = buckets.series(stats)
    stats.histogram = latency_histogram(stats.rows)
    return stats


def _account(
    stats: PeriodStats,
    buckets: Buckets,
    step: dict[str, Any],
    run_started: dt.datetime,
    answering: dict[int, str],
) -> None:
    """Add one step to the figures; `answering` remembers which backend spoke last per run."""
    kind, name, run_id = step["type"], step["backend"], step["run_id"]
    if kind == "model_response":
        answering[run_id] = name
        profile = stats.profile(name)
        profile.requests += 1
        profile.runs_attempted.add(run_id)
        if step["duration_ms"] is not None:
            profile.latency_ms.append(float(step["duration_ms"]))
        if step["ttft_ms"] is not None:
            profile.ttft_ms.append(float(step["ttft_ms"]))
        profile.input_tokens += step["input_tokens"]
        profile.output_tokens += step["output_tokens"]
        profile.estimated_requests += bool(step["payload__tokens_estimated"])
        profile.cost += step["cost"]
        stats.input_tokens += step["input_tokens"]
        stats.output_tokens += step["output_tokens"]
        stats.cost += step["cost"]
        buckets.add_cost(run_started, name, step["cost"])
    elif kind in ("tool_call", "tool_result"):
        if run_id not in answering:
            return
        profile = stats.profile(answering[run_id])
        if kind == "tool_call":
            profile.tool_calls += 1
        elif step["payload__error"] and step["payload__error"] != REJECTED:
            profile.tool_errors += 1
    elif name and "," not in name:  # retry, fallback, error; a chain's own name is no profile
        profile = stats.profile(name)
        profile.runs_attempted.add(run_id)
        buckets.add_attempt(run_started, name, run_id)
        if kind == "fallback" and step["payload__notice"] in ("fallback", "skip"):
            profile.runs_fell_back.add(run_id)
            buckets.add_fallback(run_started, name, run_id)
    if kind == "model_response":
        buckets.add_attempt(run_started, name, run_id)
