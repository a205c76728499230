"""The built-in offline engine: English task requests → the tool calls a model would make.

It is the embedded default and the last-resort fallback, so it must work with no network,
no weights and no state of its own: every call re-reads the conversation and decides the
next step (`engine.plan`). It streams like any backend (tool calls or text, then usage),
so the loop, the trace and the stats treat it exactly like a model.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from ...messages import Message, ToolCall
from ...pricing import estimate_tokens
from ...specs import BackendConfig
from ...task_contract import TOOL_NAMES
from ..base import Backend, BackendInfo, Chunk, ModelRequest, TextDelta, ToolCallChunk, UsageChunk
from . import answers, dates
from .engine import Call, plan

__all__ = ["BuiltinBackend", "plan"]


class BuiltinBackend(Backend):
    """Rule-based, deterministic, local; named honestly in the UI as "builtin / rules"."""

    def __init__(self, *, name: str = "builtin", warm: bool = True) -> None:
        self.info = BackendInfo(name=name, kind="builtin", model="rules", locality="local")
        if warm:
            dates.warm_up()

    @classmethod
    def from_config(cls, config: BackendConfig) -> BuiltinBackend:
        return cls(name=config.name or "builtin")

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        now = request.now or datetime.now()
        step = plan(request.messages, now)
        prompt_tokens = sum(_message_tokens(m) for m in request.messages)
        if isinstance(step, str):
            names = [t.name for t in request.tools] or list(TOOL_NAMES)
            text = answers.neutralise(step, names)
            yield TextDelta(text)
            output = estimate_tokens(text)
        else:
            calls = _calls(step, request.messages)
            for call in calls:
                yield ToolCallChunk(call)
            output = sum(estimate_tokens(json.dumps(c.to_dict())) for c in calls)
        yield UsageChunk(prompt_tokens, output, estimated=True)


def _message_tokens(message: Message) -> int:
    calls = "".join(json.dumps(c.arguments) for c in message.tool_calls)
    return estimate_tokens(message.content) + estimate_tokens(calls) + 4


def _calls(step: Sequence[Call], messages: Sequence[Message]) -> list[ToolCall]:
    """Number calls after those already in the conversation, so ids stay unique in it."""
    made = sum(len(m.tool_calls) for m in messages)
    counter = itertools.count(made + 1)
    return [ToolCall(id=f"call_{next(counter)}", name=n, arguments=a) for n, a in step]
