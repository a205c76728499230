"""What an eval run produced, per case and per backend, and the figures drawn from it.

The records are filled by whichever runner drove the agent (the Django `agent_eval` adapter,
or a test's in-memory runner) and judged here, so the figures mean the same thing whoever
ran the cases. The definitions are part of the report (`DEFINITIONS`), because a "tool
accuracy" without its definition cannot be compared across runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agentcore.percentiles import percentile

from .judge import Verdict, brief, judge
from .suite import Case

DEFINITIONS: dict[str, str] = {
    "passed": "cases in which every expectation held and every turn's run completed",
    "tool_accuracy": (
        "share of the cases that state tool expectations (`tools` and/or `forbid_tools`) in "
        "which every turn completed, every expected tool was called in the stated order (other "
        "calls may come between) and no forbidden tool was called; cases without tool "
        "expectations are left out"
    ),
    "latency": (
        "wall-clock time of one user turn through the app's runner (model calls, tool "
        "execution and saving the run's steps); p50/p95 interpolate linearly between ranks"
    ),
    "tokens": "input and output tokens summed over every model call of every turn",
    "cost": "sum of each model call's tokens times the backend's price per million tokens",
    "errors": "cases in which a turn failed (backend error, step limit) or the harness failed",
}


@dataclass(frozen=True, kw_only=True)
class ToolCallRecord:
    """One tool call the agent made, as the `tool_call` event reported it."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": dict(self.arguments)}


@dataclass(kw_only=True)
class TurnRecord:
    """One user message and what its run did."""

    message: str
    reply: str = ""
    status: str = ""
    """The run's final status: completed, failed, cancelled…"""
    error: str = ""
    """The run's error message when it did not complete."""
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    answered_by: str = ""
    tool_calls: list[ToolCallRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "reply": self.reply,
            "status": self.status,
            "error": self.error,
            "latency_ms": round(self.latency_ms, 3),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": str(self.cost),
            "answered_by": self.answered_by,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
        }


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    """One case on one backend, judged."""

    case: Case
    backend: str
    turns: tuple[TurnRecord, ...]
    tasks: tuple[dict[str, Any], ...]
    """The user's tasks after the last turn (report fields only)."""
    verdict: Verdict
    errors: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def tools_correct(self) -> bool:
        """Tool selection held and every turn completed: a run that died chose no tools."""
        return not self.errors and self.verdict.tools_correct

    @property
    def calls(self) -> list[str]:
        return [c.name for t in self.turns for c in t.tool_calls]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "line": self.case.line,
            "backend": self.backend,
            "passed": self.passed,
            "errors": list(self.errors),
            "tool_calls": self.calls,
            "tools_correct": self.tools_correct if self.case.expect.checks_tools else None,
            "checks": [c.to_dict() for c in self.verdict.checks],
            "turns": [t.to_dict() for t in self.turns],
            "tasks_after": list(self.tasks),
        }


def evaluate(
    case: Case,
    *,
    backend: str,
    turns: Sequence[TurnRecord],
    tasks: Sequence[Mapping[str, Any]],
    harness_error: str = "",
) -> CaseResult:
    """Judge a case from what its turns did; a failed turn or harness error fails the case."""
    errors = [
        f"turn {n}: {t.error or 'run ' + (t.status or 'did not finish')}"
        for n, t in enumerate(turns, start=1)
        if t.status != "completed"
    ]
    if harness_error:
        errors.append(f"harness: {harness_error}")
    reply = turns[-1].reply if turns else ""
    calls = [c.name for t in turns for c in t.tool_calls]
    verdict = judge(case.expect, tasks=tasks, calls=calls, reply=reply, errors=errors)
    return CaseResult(
        case=case,
        backend=backend,
        turns=tuple(turns),
        tasks=tuple(brief(t) for t in tasks),
        verdict=verdict,
        errors=tuple(errors),
    )


@dataclass(frozen=True, kw_only=True)
class BackendSummary:
    """The figures for one backend over the cases it ran (see DEFINITIONS)."""

    backend: str
    cases: int
    passed: int
    errors: int
    tool_cases: int
    tool_correct: int
    turns: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int
    cost: Decimal

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    @property
    def tool_accuracy(self) -> float | None:
        return self.tool_correct / self.tool_cases if self.tool_cases else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "cases": self.cases,
            "passed": self.passed,
            "pass_rate": round(self.pass_rate, 4),
            "errors": self.errors,
            "tool_cases": self.tool_cases,
            "tool_correct": self.tool_correct,
            "tool_accuracy": None if self.tool_accuracy is None else round(self.tool_accuracy, 4),
            "turns": self.turns,
            "latency_p50_ms": _round(self.latency_p50_ms),
            "latency_p95_ms": _round(self.latency_p95_ms),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": str(self.cost),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summarize(backend: str, results: Sequence[CaseResult]) -> BackendSummary:
    tool_results = [r for r in results if r.case.expect.checks_tools]
    latencies = [t.latency_ms for r in results for t in r.turns]
    return BackendSummary(
        backend=backend,
        cases=len(results),
        passed=sum(r.passed for r in results),
        errors=sum(bool(r.errors) for r in results),
        tool_cases=len(tool_results),
        tool_correct=sum(r.tools_correct for r in tool_results),
        turns=len(latencies),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        input_tokens=sum(t.input_tokens for r in results for t in r.turns),
        output_tokens=sum(t.output_tokens for r in results for t in r.turns),
        cost=sum((t.cost for r in results for t in r.turns), Decimal(0)),
    )


@dataclass(kw_only=True)
class Report:
    """A whole run: the suite, the backends in the order given, and each one's case results."""

    suite: str
    backends: list[str]
    results: dict[str, list[CaseResult]] = field(default_factory=dict)
    started_at: str = ""
    """ISO time the run started (for the report's reader, not for any figure)."""
    duration_s: float = 0.0

    def summaries(self) -> list[BackendSummary]:
        return [summarize(b, self.results.get(b, [])) for b in self.backends]

    def failures(self, backend: str) -> list[CaseResult]:
        return [r for r in self.results.get(backend, []) if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "definitions": DEFINITIONS,
            "backends": [
                {
                    "summary": summary.to_dict(),
                    "cases": [r.to_dict() for r in self.results.get(summary.backend, [])],
                }
                for summary in self.summaries()
            ],
        }
