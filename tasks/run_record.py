"""A finished run as typed records, read back from its stored rows (RunStep and Message).

The dataset export, the saved eval cases and the OpenTelemetry export all read runs after the
fact, from the database, which is the source of truth. Every read of a step's `payload` for
them happens here and nowhere else, so that when the run core's step mapping changes, only
this adapter follows it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from .models import AgentRun, Message, RunStep
from .services import message_to_core

_NOTICES = {"retry", "fallback", "error"}


@dataclass(frozen=True, kw_only=True)
class ModelCall:
    """One call to a model: an answer (`model_response`) or an attempt that failed."""

    seq: int
    start: dt.datetime
    end: dt.datetime
    backend: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    ttft_ms: float | None = None
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    outcome: str = "ok"
    """ok, or the notice that ended a failed attempt: retry, fallback, skip, abandon, error."""
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome != "ok"


@dataclass(frozen=True, kw_only=True)
class ToolRun:
    """One tool call of the run and what became of it."""

    seq: int
    call_id: str
    name: str
    arguments: dict[str, Any]
    start: dt.datetime
    end: dt.datetime
    content: str = ""
    value: Any = None
    """The tool's structured result (a task dict, a list result), or None on error."""
    error: str = ""
    invalid: bool = False
    rejected: bool = False
    """Waited for approval and the user said no."""


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    run: AgentRun
    now: dt.datetime
    """The agent's clock at the start of the run (naive local time, as the loop's clock)."""
    start: dt.datetime
    end: dt.datetime
    history: tuple[CoreMessage, ...]
    """The conversation before this run (abandoned attempts left out)."""
    messages: tuple[CoreMessage, ...]
    """This run's messages: the user's, then the assistant's and the tools', in order."""
    model_calls: tuple[ModelCall, ...] = ()
    tool_runs: tuple[ToolRun, ...] = ()
    offered_tools: tuple[str, ...] = field(default_factory=tuple)

    @property
    def user_text(self) -> str:
        return next((m.content for m in self.messages if m.role == "user"), "")

    @property
    def had_backend_trouble(self) -> bool:
        return any(c.failed for c in self.model_calls)


def _payload(step: RunStep) -> dict[str, Any]:
    return step.payload if isinstance(step.payload, dict) else {}


def _began(step: RunStep) -> dt.datetime:
    return step.ts - dt.timedelta(milliseconds=float(step.duration_ms or 0))


def _calls(raw: Any) -> tuple[ToolCall, ...]:
    calls = []
    for item in raw or ():
        if isinstance(item, dict) and "id" in item and "name" in item:
            args = item.get("arguments")
            calls.append(
                ToolCall(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    arguments=dict(args) if isinstance(args, dict) else {},
                )
            )
    return tuple(calls)


def _model_calls(steps: Sequence[RunStep]) -> list[ModelCall]:
    """Answers from `model_response` steps; failed attempts from the notices that ended them.

    A failed attempt starts where the previous thing ended (the request, the previous notice
    plus its back-off delay) and ends at its notice, since nothing else marks its start.
    """
    calls: list[ModelCall] = []
    mark: dt.datetime | None = None
    noticed: dt.datetime | None = None
    requested = ("", "")
    for step in steps:
        p = _payload(step)
        if step.type == "model_request":
            mark, noticed = step.ts, None
            requested = (step.backend.split(",")[0], step.model)
        elif step.type == "model_response":
            # The loop times the whole request; the answering attempt began after the last
            # failed one.
            start = max(_began(step), noticed) if noticed is not None else _began(step)
            calls.append(
                ModelCall(
                    seq=step.seq, start=start, end=step.ts, backend=step.backend,
                    model=step.model, input_tokens=step.input_tokens,
                    output_tokens=step.output_tokens,
                    tokens_estimated=bool(p.get("tokens_estimated")), ttft_ms=step.ttft_ms,
                    text=str(p.get("text") or ""), tool_calls=_calls(p.get("tool_calls")),
                )
            )  # fmt: skip
            mark = None
        elif step.type in _NOTICES and mark is not None:
            outcome = str(p.get("notice") or step.type)
            if p.get("kind") == "step_limit":
                continue
            model = step.model or (requested[1] if step.backend == requested[0] else "")
            calls.append(
                ModelCall(
                    seq=step.seq, start=min(mark, step.ts), end=step.ts, backend=step.backend,
                    model=model, outcome=outcome,
                    reason=str(p.get("reason") or p.get("message") or ""),
                )
            )  # fmt: skip
            delay = float(p.get("delay_s") or 0) if step.type == "retry" else 0.0
            mark = step.ts + dt.timedelta(seconds=delay)
            noticed = mark
    return calls


def _tool_runs(steps: Sequence[RunStep]) -> list[ToolRun]:
    asked: dict[str, RunStep] = {}
    decided: dict[str, RunStep] = {}
    rejected: set[str] = set()
    runs: list[ToolRun] = []
    for step in steps:
        p = _payload(step)
        call_id = str(p.get("call_id") or "")
        if step.type == "tool_call":
            asked[call_id] = step
        elif step.type == "approval_decision":
            decided[call_id] = step
            if p.get("decision") != "approve":
                rejected.add(call_id)
        elif step.type == "tool_result":
            call = _payload(asked[call_id]) if call_id in asked else {}
            args = call.get("arguments")
            # The tool ran after its approval (if it waited), and the step gives its duration.
            start = _began(step)
            if call_id in decided:
                start = max(start, decided[call_id].ts)
            runs.append(
                ToolRun(
                    seq=step.seq, call_id=call_id, name=str(p.get("name") or ""),
                    arguments=dict(args) if isinstance(args, dict) else {}, start=start,
                    end=step.ts, content=str(p.get("content") or ""), value=p.get("value"),
                    error=str(p.get("error") or ""), invalid=bool(p.get("invalid")),
                    rejected=call_id in rejected,
                )
            )  # fmt: skip
    return runs


def _clock(run: AgentRun, first: RunStep | None) -> dt.datetime:
    """The run's clock: given in the run's first step if the core records it, else its start."""
    p = _payload(first) if first is not None else {}
    given = p.get("now")
    if isinstance(given, str):
        try:
            return dt.datetime.fromisoformat(given)
        except ValueError:
            pass
    return timezone.localtime(run.started_at).replace(tzinfo=None)


def run_records(runs: Sequence[AgentRun]) -> list[RunRecord]:
    """Everything stored about these runs, in two queries (steps, conversations' messages)."""
    steps: dict[int, list[RunStep]] = defaultdict(list)
    for step in RunStep.objects.filter(run_id__in=[r.pk for r in runs]).order_by("run_id", "seq"):
        steps[step.run_id].append(step)
    messages: dict[int, list[Message]] = defaultdict(list)
    rows = Message.objects.filter(
        conversation_id__in={r.conversation_id for r in runs}, abandoned=False
    )
    for row in rows.order_by("id"):
        messages[row.conversation_id].append(row)
    return [_record(run, steps[run.pk], messages[run.conversation_id]) for run in runs]


def run_record(run: AgentRun) -> RunRecord:
    return run_records([run])[0]


def _record(run: AgentRun, steps: Sequence[RunStep], rows: Sequence[Message]) -> RunRecord:
    own_ids = [m.pk for m in rows if m.run_id == run.pk]
    first_own = run.user_message_id or min(own_ids, default=None)
    history: list[CoreMessage] = []
    own: list[CoreMessage] = []
    for row in rows:
        if row.run_id == run.pk:
            own.append(message_to_core(row))
        elif first_own is None or row.pk < first_own:
            history.append(message_to_core(row))
    first = steps[0] if steps else None
    start = first.ts if first is not None else run.started_at
    end = steps[-1].ts if steps else (run.finished_at or run.started_at)
    offered = _payload(first).get("tools") if first is not None else None
    return RunRecord(
        run=run,
        now=_clock(run, first),
        start=start,
        end=max(end, start),
        history=tuple(history),
        messages=tuple(own),
        model_calls=tuple(_model_calls(steps)),
        tool_runs=tuple(_tool_runs(steps)),
        offered_tools=tuple(str(t) for t in offered) if isinstance(offered, list) else (),
    )
