"""The terminal form of a report: one summary row per backend, then what differed per failure.

Plain text with aligned columns, no colour codes, so it reads the same in a terminal, a CI log
and a pasted issue comment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .report import DEFINITIONS, BackendSummary, CaseResult, Report

COLUMNS = (
    "backend",
    "passed",
    "tool accuracy",
    "p50 ms",
    "p95 ms",
    "tokens in",
    "tokens out",
    "cost $",
    "errors",
)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def summary_row(s: BackendSummary) -> list[str]:
    tool = (
        "-"
        if s.tool_accuracy is None
        else f"{s.tool_accuracy:.1%} ({s.tool_correct}/{s.tool_cases})"
    )
    return [
        s.backend,
        f"{s.passed}/{s.cases} ({s.pass_rate:.1%})",
        tool,
        _ms(s.latency_p50_ms),
        _ms(s.latency_p95_ms),
        str(s.input_tokens),
        str(s.output_tokens),
        f"{s.cost:.6f}",
        str(s.errors),
    ]


def render_table(summaries: Sequence[BackendSummary]) -> str:
    """An aligned table, text columns left and figures right."""
    rows = [list(COLUMNS), *(summary_row(s) for s in summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(row: list[str]) -> str:
        cells = [
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def render_failure(result: CaseResult) -> str:
    """What the agent did in a failed case, then each failed check: expected, actual, how."""
    out = [f"FAIL {result.case.id} [{result.backend}] (suite line {result.case.line})"]
    for n, turn in enumerate(result.turns, start=1):
        calls = ", ".join(f"{c.name}{_compact(dict(c.arguments))}" for c in turn.tool_calls)
        out.append(f"  turn {n}: {turn.message!r}")
        out.append(f"    calls: {calls or '(none)'}")
        out.append(f"    reply: {turn.reply!r}" if turn.reply else f"    status: {turn.status}")
    for check in result.verdict.failures:
        out.append(f"  x {check.key}:")
        for detail in check.detail.splitlines():
            out.append(f"      {detail}")
        if check.key in {"tasks", "absent"}:
            out.append(f"      expected: {_compact(check.expected)}")
            out.append("      tasks after the last turn:")
            out.extend(f"        {_compact(t)}" for t in result.tasks)
            if not result.tasks:
                out.append("        (none)")
        elif check.key != "run":
            out.append(f"      expected: {_compact(check.expected)}")
            out.append(f"      actual:   {_compact(check.actual)}")
    return "\n".join(out)


def render_report(report: Report) -> str:
    """The whole terminal report: table, definitions, then every failed case per backend."""
    parts = [
        f"suite: {report.suite} — {len(report.backends)} backend(s), {report.duration_s:.1f} s",
        "",
        render_table(report.summaries()),
        "",
        f"tool accuracy: {DEFINITIONS['tool_accuracy']}.",
        f"latency: {DEFINITIONS['latency']}.",
    ]
    for backend in report.backends:
        failures = report.failures(backend)
        if failures:
            parts += ["", f"== {len(failures)} failed case(s) on {backend} =="]
            for result in failures:
                parts += [render_failure(result), ""]
    return "\n".join(parts).rstrip() + "\n"
