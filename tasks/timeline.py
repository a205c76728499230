"""One run as a waterfall: every model call, tool call, wait, retry and fallback as a bar.

Steps are stored when their event happened, so a step with a duration ended at its timestamp
and began `duration_ms` earlier; that is what a tracing tool shows as a span. Events without
a duration (a fallback, an error) become zero-width markers at their time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agentcore.events import (
    ApprovalDecided,
    ApprovalRequired,
    Failed,
    FellBack,
    ModelResponded,
    Retried,
    ToolResulted,
)

from .models import AgentRun, RunStep
from .steps import event_from_step


@dataclass(frozen=True, kw_only=True)
class Bar:
    """One span of the waterfall, in milliseconds from the start of the run."""

    seq: int
    """The step that closed the span (links the bar to the step list)."""
    kind: str
    """run, model, tool, approval, retry, fallback or error: picks the bar's colour."""
    label: str
    start_ms: float
    end_ms: float
    backend: str = ""
    model: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: bool = False
    """The server reported no usage; the token counts are the loop's estimate."""
    cost: Decimal | None = None
    ttft_ms: float | None = None
    detail: str = ""
    """Reason, error or decision text (hostile: rendered escaped)."""
    failed: bool = False

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


def run_timeline(run: AgentRun, steps: Sequence[RunStep]) -> list[Bar]:
    """The bars of a run, in the order their spans started (the run itself first)."""
    if not steps:
        return []
    origin = steps[0].ts if steps[0].type == "run_started" else run.started_at

    def at(step: RunStep) -> float:
        return max((step.ts - origin).total_seconds() * 1000, 0.0)

    bars: list[Bar] = []
    waiting: dict[str, tuple[float, str]] = {}
    for step in steps:
        p = event_from_step(step).payload
        end = at(step)
        if isinstance(p, ModelResponded):
            bars.append(
                Bar(
                    seq=step.seq,
                    kind="model",
                    label=f"model · {step.backend}",
                    start_ms=max(end - float(step.duration_ms or 0), 0.0),
                    end_ms=end,
                    backend=step.backend,
                    model=step.model,
                    input_tokens=step.input_tokens,
                    output_tokens=step.output_tokens,
                    estimated=p.tokens_estimated,
                    cost=step.cost,
                    ttft_ms=step.ttft_ms,
                    detail=", ".join(str(c.get("name")) for c in p.tool_calls),
                )
            )
        elif isinstance(p, ToolResulted):
            error = p.error or ""
            bars.append(
                Bar(
                    seq=step.seq,
                    kind="tool",
                    label=f"tool · {p.name}",
                    start_ms=max(end - float(step.duration_ms or 0), 0.0),
                    end_ms=end,
                    detail=error,
                    failed=bool(error),
                )
            )
        elif isinstance(p, ApprovalRequired):
            waiting[p.call_id] = (end, p.name)
        elif isinstance(p, ApprovalDecided) and p.call_id in waiting:
            start, name = waiting.pop(p.call_id)
            bars.append(
                Bar(seq=step.seq, kind="approval", label=f"approval · {name}",
                    start_ms=start, end_ms=end, detail=p.decision,
                    failed=p.decision != "approve")
            )  # fmt: skip
        if isinstance(p, Retried | FellBack) and p.duration_ms:
            bars.append(  # the failed attempt, on the backend that spent the time
                Bar(seq=step.seq, kind="model", label=f"model · {p.backend} (failed)",
                    start_ms=max(end - p.duration_ms, 0.0), end_ms=end, backend=p.backend,
                    detail=p.reason, failed=True)
            )  # fmt: skip
        if isinstance(p, Retried):
            delay = float(p.delay_s or 0) * 1000
            bars.append(
                Bar(seq=step.seq, kind="retry", label=f"retry · {step.backend}", start_ms=end,
                    end_ms=end + delay, backend=step.backend, detail=p.reason, failed=True)
            )  # fmt: skip
        elif isinstance(p, FellBack | Failed):
            notice = p.notice if isinstance(p, FellBack) else step.type
            detail = p.reason if isinstance(p, FellBack) else p.message
            bars.append(
                Bar(seq=step.seq, kind=step.type, label=f"{notice or step.type} · {step.backend}",
                    start_ms=end, end_ms=end, backend=step.backend, failed=True, detail=detail)
            )  # fmt: skip
    last = steps[-1]
    total = Bar(
        seq=0,
        kind="run",
        label=f"run {run.pk} · {run.status}",
        start_ms=0.0,
        end_ms=at(last),
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        cost=run.cost,
        failed=run.status != "completed",
    )
    return [total, *sorted(bars, key=lambda b: (b.start_ms, b.seq))]


def chart_data(bars: Sequence[Bar]) -> dict[str, Any]:
    """What static/js/stats.js needs to draw the waterfall (a json_script block)."""
    return {
        "labels": [f"{b.label}" for b in bars],
        "spans": [[round(b.start_ms, 3), round(b.end_ms, 3)] for b in bars],
        "kinds": [b.kind for b in bars],
        "failed": [b.failed for b in bars],
    }
