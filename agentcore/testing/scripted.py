"""ScriptedBackend: a backend whose answers a test gives, as data or as a function.

Modelled on pydantic-ai's FunctionModel and openai-agents' ScriptedModel: calls are recorded,
a call past the end of the script raises `UnexpectedBackendCall`, and a script that was not
used up can be checked with `assert_complete()`.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias, cast

from ..backends.base import (
    Backend,
    BackendInfo,
    Chunk,
    ModelRequest,
    TextDelta,
    ToolCallChunk,
    UsageChunk,
)
from ..errors import AgentCoreError
from ..messages import ToolCall
from ..pricing import estimate_tokens

Turn: TypeAlias = str | ToolCall | Sequence[Chunk | str | ToolCall] | Exception
Responder: TypeAlias = Callable[
    ["ModelRequest", "CallInfo"], "Turn | Awaitable[Turn] | AsyncIterator[Chunk]"
]


class UnexpectedBackendCall(AgentCoreError):
    """The code under test called the backend more often than the script allows."""

    def __init__(self, call_index: int) -> None:
        super().__init__(f"unexpected backend call #{call_index}: the script is used up")
        self.call_index = call_index


class UnconsumedScript(AgentCoreError):
    """The test scripted more turns than the code under test asked for."""


@dataclass(frozen=True, kw_only=True)
class CallInfo:
    index: int
    """0-based number of this call."""
    info: BackendInfo


def turn_chunks(turn: Turn) -> list[Chunk]:
    """Expand the data sugar of a scripted turn into chunks (text is split by word)."""
    if isinstance(turn, Exception):
        raise turn
    if isinstance(turn, str):
        return [TextDelta(part) for part in _words(turn)]
    if isinstance(turn, ToolCall):
        return [ToolCallChunk(turn)]
    chunks: list[Chunk] = []
    for item in turn:
        if isinstance(item, str):
            chunks.extend(TextDelta(part) for part in _words(item))
        elif isinstance(item, ToolCall):
            chunks.append(ToolCallChunk(item))
        else:
            chunks.append(item)
    return chunks


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]] if text else []


class ScriptedBackend(Backend):
    """A backend for tests: one scripted turn per call, or a function of the request."""

    __test__ = False

    def __init__(
        self,
        script: Iterable[Turn] | Responder,
        *,
        info: BackendInfo | None = None,
        usage: tuple[int, int] | None = None,
    ) -> None:
        self.info = info or BackendInfo(name="scripted", kind="scripted", model="scripted")
        self._responder: Responder | None = script if callable(script) else None
        self._script = iter(()) if callable(script) else iter(list(script))
        self._usage = usage
        self.calls: list[ModelRequest] = []
        self._counter = itertools.count()

    def assert_complete(self) -> None:
        left = sum(1 for _ in self._script)
        if left:
            raise UnconsumedScript(f"{left} scripted turn(s) were never requested")

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        index = next(self._counter)
        self.calls.append(copy.deepcopy(request))
        chunks: list[Chunk] | None = None
        if self._responder is not None:
            result = self._responder(request, CallInfo(index=index, info=self.info))
            if inspect.isasyncgen(result):
                # Closing this stream closes the scripted generator too, as a real request is.
                async with contextlib.aclosing(result) as scripted:
                    async for chunk in scripted:
                        yield cast(Chunk, chunk)
                return
            if inspect.isawaitable(result):
                result = await result
            chunks = turn_chunks(result)  # type: ignore[arg-type]
        else:
            try:
                turn = next(self._script)
            except StopIteration:
                raise UnexpectedBackendCall(index) from None
            chunks = turn_chunks(turn)
        saw_usage = False
        for chunk in chunks:
            saw_usage |= isinstance(chunk, UsageChunk)
            yield chunk
        if not saw_usage:
            yield self._usage_for(request, chunks)

    def _usage_for(self, request: ModelRequest, chunks: list[Chunk]) -> UsageChunk:
        if self._usage is not None:
            return UsageChunk(*self._usage)
        prompt = sum(estimate_tokens(m.content) for m in request.messages)
        output = sum(estimate_tokens(c.text) for c in chunks if isinstance(c, TextDelta))
        return UsageChunk(prompt, output, estimated=True)
