"""The agent loop: model → tool calls → tools → model, until a text answer or the step limit.

Every step is an `Event`. The loop is the only place that measures latency and turns backend
chunks into events, so backends stay small and alike. A run is a sequence of steps, each of
which ends in a `NextStep` (as openai-agents' loop does): the final output, run the model
again, or an interruption that waits for the user's approval of one call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

from .backends.base import (
    Backend,
    BackendInfo,
    ModelRequest,
    ModelSettings,
    NoticeChunk,
    TextDelta,
    ToolCallChunk,
    UsageChunk,
)
from .compat import timeout
from .context import fit_history
from .errors import BackendError
from .events import (
    Answered,
    ApprovalDecided,
    ApprovalRequired,
    Event,
    EventFactory,
    Failed,
    FellBack,
    ModelRequested,
    ModelResponded,
    Retried,
    RunFinished,
    RunStarted,
    RunStatus,
    Token,
    ToolCalled,
    ToolResulted,
)
from .messages import Message, ToolCall
from .pricing import cost
from .toolcall_parsing import (
    defuse_call_markup,
    looks_like_tool_call,
    parse_tool_calls_off_loop,
)
from .tools import ToolOutcome, ToolSet

Approval: TypeAlias = bool | tuple[bool, str]
"""An approver's answer: approved or not, optionally with why (e.g. "expired")."""
ApprovalFn = Callable[[ToolCall], Awaitable[Approval]]
Clock = Callable[[], datetime]

DEFAULT_PROMPT = "You are an assistant that acts with tools. Today is {today}."
"""The app passes its own prompt; `{today}` is filled in from the agent's clock."""

_NOTICES: dict[str, type[Retried] | type[FellBack]] = {
    "retry": Retried,
    "stream_retry": Retried,
    "fallback": FellBack,
    "skip": FellBack,
    "abandon": FellBack,
}


@dataclass
class RunTotals:
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    model_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    answered_by: str = ""

    def finished(self, status: RunStatus, duration_s: float) -> RunFinished:
        return RunFinished(
            status=status,
            duration_ms=_ms(duration_s),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost=str(self.cost),
            model_calls=self.model_calls,
            tool_calls=self.tool_calls,
            tool_errors=self.tool_errors,
            answered_by=self.answered_by,
        )


@dataclass(frozen=True)
class FinalOutput:
    """The run is over, with this status."""

    status: RunStatus


@dataclass(frozen=True)
class RunAgain:
    """The tool results are in: ask the model again."""


@dataclass(frozen=True)
class Interruption:
    """`call` waits for the user's approval; `rest` are the calls of the answer after it."""

    call: ToolCall
    arguments: dict[str, object]
    rest: tuple[ToolCall, ...]


NextStep: TypeAlias = FinalOutput | RunAgain | Interruption


@dataclass
class _Response:
    """What one model call produced, gathered while its chunks stream."""

    info: BackendInfo
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    recovered: bool = False
    usage: UsageChunk | None = None
    ttft: float | None = None


@dataclass
class _Turn:
    """The state of one run between its steps."""

    messages: list[Message]
    event: EventFactory
    backend: Backend
    started: float
    totals: RunTotals = field(default_factory=RunTotals)
    step: int = 0
    invalid_rounds: int = 0
    invalid_since: int = 0
    hidden: range = range(0)
    """Failed rounds of a backend the run fell back from: the next backend starts clean."""
    recovered: bool = False
    invalid: int = 0
    """Invalid calls in the current answer."""
    answer_calls: int = 0
    """Calls of the current answer that may run (the rest are over a cap)."""
    refused: tuple[ToolCall, ...] = ()
    """Calls of the current answer over a cap, answered with an error once the others are."""
    refused_reason: str = ""
    round_start: int = 0
    """Index in `messages` of the current answer."""
    next: NextStep = RunAgain()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class Agent:
    """Runs turns of one conversation against one backend (which may be a fallback chain)."""

    def __init__(
        self,
        *,
        backend: Backend,
        tools: ToolSet,
        max_steps: int = 10,
        system_prompt: str = DEFAULT_PROMPT,
        clock: Clock | None = None,
        settings: ModelSettings | None = None,
        context_budget: int = 6000,
        max_tokens_per_run: int | None = None,
        max_calls_per_answer: int | None = None,
        max_calls_per_run: int | None = None,
        approval_timeout_s: float | None = None,
    ) -> None:
        self.backend = backend
        self.tools = tools
        self.max_steps = max_steps
        self.system_prompt = system_prompt
        self.clock: Clock = clock or (lambda: datetime.now().astimezone())
        self.settings = settings or ModelSettings()
        self.context_budget = context_budget
        self.max_tokens_per_run = max_tokens_per_run
        self.max_calls_per_answer = max_calls_per_answer
        self.max_calls_per_run = max_calls_per_run
        self.approval_timeout_s = approval_timeout_s

    def _request(self, turn: _Turn, now: datetime) -> ModelRequest:
        today = now.strftime("%A %Y-%m-%d")
        system = Message(role="system", content=self.system_prompt.format(today=today))
        shown = [m for i, m in enumerate(turn.messages) if i not in turn.hidden]
        return ModelRequest(
            messages=[system, *fit_history(shown, self.context_budget)],
            tools=self.tools.specs,
            settings=self.settings,
            now=now,
        )

    async def run(
        self,
        messages: list[Message],
        *,
        run_id: str,
        approve: ApprovalFn | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Answer the last user message of `messages`, yielding every step as an event.

        New assistant and tool messages are appended to `messages` as they happen, so the
        caller can persist exactly what the model saw. Without `approve`, calls that need
        approval are rejected.
        """
        turn = _Turn(
            messages=messages,
            event=EventFactory(run_id),
            backend=self.backend.for_turn(),
            started=time.perf_counter(),
        )
        yield turn.event(RunStarted(backend=self.backend.info.to_dict()))
        while True:
            if turn.step >= self.max_steps:
                yield self._limit(turn, f"step limit of {self.max_steps} reached")
                turn.next = FinalOutput("failed")
            elif isinstance(turn.next, RunAgain):
                turn.step += 1
                async for ev in self._model_step(turn):
                    yield ev
            elif isinstance(turn.next, Interruption):
                pending = turn.next
                approved, why = await self._approval(pending.call, approve)
                async for ev in self._decided(turn, pending, approved, why):
                    yield ev
            if isinstance(turn.next, FinalOutput):
                duration = time.perf_counter() - turn.started
                yield turn.event(turn.totals.finished(turn.next.status, duration))
                return

    async def _approval(self, call: ToolCall, approve: ApprovalFn | None) -> tuple[bool, str]:
        """The user's verdict on `call`; no answer within the timeout counts as a rejection."""
        if approve is None:
            return False, ""
        try:
            async with timeout(self.approval_timeout_s):
                verdict = await approve(call)
        except TimeoutError:
            return False, f"no answer within {self.approval_timeout_s:g}s; expired"
        return verdict if isinstance(verdict, tuple) else (verdict, "")

    # -- a model call -------------------------------------------------------------------
    async def _model_step(self, turn: _Turn) -> AsyncIterator[Event]:
        now = self.clock()
        request = self._request(turn, now)
        info = turn.backend.info
        yield turn.event(
            ModelRequested(
                step=turn.step, backend=info.name, model=info.model, messages=len(request.messages)
            )
        )
        response = _Response(info=info)
        call_started = time.perf_counter()
        held: list[str] = []
        try:
            async for chunk in turn.backend.stream(request):
                if isinstance(chunk, TextDelta):
                    if response.ttft is None:
                        response.ttft = time.perf_counter() - call_started
                    response.text += chunk.text
                    held.append(chunk.text)
                    if not looks_like_tool_call(response.text):
                        yield turn.event(Token(text="".join(held), backend=response.info.name))
                        held.clear()
                elif isinstance(chunk, ToolCallChunk):
                    if response.ttft is None:
                        response.ttft = time.perf_counter() - call_started
                    response.calls.append(chunk.call)
                    response.recovered |= chunk.recovered
                elif isinstance(chunk, UsageChunk):
                    response.usage = chunk
                elif isinstance(chunk, NoticeChunk):
                    if chunk.notice == "attempt":
                        # Time is charged to the attempt that spends it: the answer's
                        # duration and TTFT start here, not at the failed attempts before.
                        response = _Response(info=chunk.backend)
                        call_started = time.perf_counter()
                        held.clear()
                        continue
                    abandoned = ""
                    if chunk.notice == "abandon":
                        abandoned, response.text = response.text, ""
                        held.clear()
                    spent = _ms(time.perf_counter() - call_started)
                    yield turn.event(_notice(chunk, abandoned, spent))
        except BackendError as exc:
            yield turn.event(
                Failed(
                    kind=exc.kind,
                    backend=exc.backend or info.name,
                    status=getattr(exc, "status", None),
                    message=str(exc),
                )
            )
            turn.next = FinalOutput("failed")
            return
        duration = time.perf_counter() - call_started
        if not response.calls and response.text:
            response.calls = await parse_tool_calls_off_loop(response.text, set(self.tools.tools))
            response.recovered = bool(response.calls)
        if held and not response.calls:
            yield turn.event(Token(text="".join(held), backend=response.info.name))
        yield turn.event(self._model_response(response, duration, turn.totals))
        content = "" if response.recovered else response.text
        turn.round_start = len(turn.messages)
        turn.messages.append(
            Message(role="assistant", content=content, tool_calls=tuple(response.calls))
        )
        if not response.calls:
            yield turn.event(Answered(text=response.text, backend=response.info.name))
            turn.next = FinalOutput("completed")
            return
        turn.recovered, turn.invalid, turn.refused = response.recovered, 0, ()
        async for ev in self._refuse_over_cap(turn, response.calls):
            yield ev
        allowed = response.calls[: turn.answer_calls]
        async for ev in self._tool_calls(turn, tuple(allowed)):
            yield ev
        if isinstance(turn.next, RunAgain):
            async for ev in self._after_tools(turn):
                yield ev

    def _model_response(
        self, response: _Response, duration: float, totals: RunTotals
    ) -> ModelResponded:
        usage = response.usage or UsageChunk(0, 0, estimated=True)
        info = response.info
        price = cost(
            usage.input_tokens,
            usage.output_tokens,
            price_in_per_mtok=info.price_in_per_mtok,
            price_out_per_mtok=info.price_out_per_mtok,
        )
        totals.input_tokens += usage.input_tokens
        totals.output_tokens += usage.output_tokens
        totals.cost += price
        totals.model_calls += 1
        totals.answered_by = info.name
        return ModelResponded(
            backend=info.name,
            model=info.model,
            locality=info.locality,
            text=response.text,
            tool_calls=[c.to_dict() for c in response.calls],
            recovered=response.recovered,
            ttft_ms=_ms(response.ttft) if response.ttft is not None else None,
            duration_ms=_ms(duration),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens_estimated=usage.estimated,
            usage_details=usage.details,
            cost=str(price),
        )

    # -- tool calls -----------------------------------------------------------------------
    async def _refuse_over_cap(self, turn: _Turn, calls: list[ToolCall]) -> AsyncIterator[Event]:
        """Answer the calls past the per-answer and per-run caps without running them.

        Each gets an error result the model reads (the history stays valid); the trace gets
        one error step for all of them, not one per call: a model that asks for 400 calls
        must not cost 400 tool runs nor 800 trace steps.
        """
        room = len(calls)
        if self.max_calls_per_answer is not None:
            room = min(room, self.max_calls_per_answer)
        if self.max_calls_per_run is not None:
            room = min(room, max(self.max_calls_per_run - turn.totals.tool_calls, 0))
        turn.answer_calls = room
        refused = calls[room:]
        if not refused:
            return
        per_answer = self.max_calls_per_answer is not None and len(calls) > (
            self.max_calls_per_answer or 0
        )
        cap = (
            f"{self.max_calls_per_answer} tool calls per answer"
            if per_answer
            else f"{self.max_calls_per_run} tool calls per run"
        )
        reason = f"{len(refused)} of {len(calls)} tool calls not run: over the cap of {cap}"
        turn.refused, turn.refused_reason = tuple(refused), reason
        turn.totals.tool_errors += len(refused)
        yield turn.event(
            Failed(kind="tool_call_cap", backend=turn.totals.answered_by, message=reason)
        )

    async def _tool_calls(self, turn: _Turn, calls: tuple[ToolCall, ...]) -> AsyncIterator[Event]:
        """Run `calls` in order until one needs approval (then `turn.next` interrupts)."""
        for index, call in enumerate(calls):
            turn.totals.tool_calls += 1
            yield turn.event(
                ToolCalled(
                    call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                    recovered=turn.recovered,
                )
            )
            started = time.perf_counter()
            tool, checked = self.tools.validate(call)
            if tool is None or isinstance(checked, str):
                turn.invalid += 1
                outcome = ToolOutcome(content=f"Error: {checked}", error=str(checked))
            elif tool.requires_approval:
                refused = await self.tools.precheck(tool, checked)
                if refused is None:
                    timeout = self.approval_timeout_s
                    expires = time.time() + timeout if timeout is not None else None
                    yield turn.event(
                        ApprovalRequired(
                            call_id=call.id, name=call.name, arguments=checked, expires_at=expires
                        )
                    )
                    turn.next = Interruption(call, checked, calls[index + 1 :])
                    return
                outcome = refused
            else:
                outcome = await self.tools.execute(tool, checked)
            invalid = tool is None or isinstance(checked, str)
            yield self._result(turn, call, outcome, started, invalid=invalid)
        turn.next = RunAgain()

    async def _decided(
        self, turn: _Turn, pending: Interruption, approved: bool, why: str
    ) -> AsyncIterator[Event]:
        call = pending.call
        yield turn.event(
            ApprovalDecided(
                call_id=call.id, decision="approve" if approved else "reject", reason=why
            )
        )
        started = time.perf_counter()
        tool = self.tools.tools.get(call.name)
        if approved and tool is not None:
            outcome = await self.tools.execute(tool, dict(pending.arguments))
        else:
            because = f" ({why})" if why else ""
            outcome = ToolOutcome(
                content=f"The user rejected this call{because}; nothing was changed.",
                error="rejected by the user",
            )
        yield self._result(turn, call, outcome, started, invalid=False)
        async for ev in self._tool_calls(turn, pending.rest):
            yield ev
        if isinstance(turn.next, RunAgain):
            async for ev in self._after_tools(turn):
                yield ev

    def _result(
        self, turn: _Turn, call: ToolCall, outcome: ToolOutcome, started: float, *, invalid: bool
    ) -> Event:
        if not outcome.ok:
            turn.totals.tool_errors += 1
        turn.messages.append(
            Message(
                role="tool",
                content=defuse_call_markup(outcome.content),
                tool_call_id=call.id,
                name=call.name,
            )
        )
        return turn.event(
            ToolResulted(
                call_id=call.id,
                name=call.name,
                content=outcome.content,
                value=outcome.value,
                error=outcome.error,
                invalid=invalid,
                duration_ms=_ms(time.perf_counter() - started),
            )
        )

    async def _after_tools(self, turn: _Turn) -> AsyncIterator[Event]:
        """Once an answer's calls are answered: refused calls, corrective rounds, token cap."""
        for call in turn.refused:
            turn.messages.append(
                Message(
                    role="tool",
                    content=f"Error: not run; {turn.refused_reason}. Ask for fewer at a time.",
                    tool_call_id=call.id,
                    name=call.name,
                )
            )
        turn.refused = ()
        all_invalid = turn.answer_calls > 0 and turn.invalid == turn.answer_calls
        turn.invalid_rounds = turn.invalid_rounds + 1 if all_invalid else 0
        if turn.invalid_rounds == 1:
            turn.invalid_since = turn.round_start
        if turn.invalid_rounds >= 2:
            # The model had its corrective round and is still wrong: a chain moves on.
            answered_by = turn.totals.answered_by
            reason = f"invalid tool calls from {answered_by} after a corrective round"
            if turn.backend.give_up_on(answered_by, reason) is not None:
                turn.invalid_rounds = 0
                turn.hidden = range(turn.invalid_since, len(turn.messages))
        cap = self.max_tokens_per_run
        if cap and turn.totals.input_tokens + turn.totals.output_tokens > cap:
            yield self._limit(turn, f"token cap of {cap} reached")
            turn.next = FinalOutput("failed")

    def _limit(self, turn: _Turn, reason: str) -> Event:
        failed = Failed(kind="step_limit", backend=turn.totals.answered_by, message=reason)
        return turn.event(failed)


def _notice(chunk: NoticeChunk, abandoned: str, spent_ms: float) -> Retried | FellBack:
    """The loop's event for a chain's notice; `spent_ms` is the failed attempt's own time."""
    data = chunk.data
    cls = _NOTICES[chunk.notice]

    def opt_int(key: str) -> int | None:
        value = data.get(key)
        return int(value) if isinstance(value, int) else None

    def opt_str(key: str) -> str | None:
        value = data.get(key)
        return str(value) if value is not None else None

    delay = data.get("delay_s")
    return cls(
        notice=chunk.notice,
        backend=chunk.backend.name,
        reason=chunk.reason,
        attempt=opt_int("attempt"),
        max_retries=opt_int("max_retries"),
        delay_s=float(delay) if isinstance(delay, int | float) else None,
        error_kind=opt_str("error_kind"),
        status=opt_int("status"),
        next=opt_str("next"),
        policy=opt_str("policy"),
        open_until=opt_str("open_until"),
        abandoned_text=abandoned,
        duration_ms=spent_ms if chunk.notice != "skip" else None,
    )
