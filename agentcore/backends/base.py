"""The one async interface every backend implements, and the chunks it yields.

Backends turn a `ModelRequest` into a stream of chunks; they never build events or measure
latency. The loop does that once for all of them, so no backend repeats it.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeAlias

from ..errors import BackendError
from ..messages import Message, ToolCall
from ..tools import ToolSpec

Locality = Literal["local", "cloud"]


@dataclass(frozen=True, kw_only=True)
class BackendInfo:
    name: str
    """Profile or spec name shown in the UI and stats."""
    kind: str
    """ollama, openai_compat, llamacpp, builtin, scripted, fallback."""
    model: str
    locality: Locality = "local"
    price_in_per_mtok: Decimal = Decimal(0)
    """Dollars per million input tokens."""
    price_out_per_mtok: Decimal = Decimal(0)
    """Dollars per million output tokens."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "model": self.model,
            "locality": self.locality,
            "price_in_per_mtok": str(self.price_in_per_mtok),
            "price_out_per_mtok": str(self.price_out_per_mtok),
        }


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    temperature: float | None = None
    max_tokens: int | None = None
    num_ctx: int | None = None
    """Context window to ask for (Ollama's `num_ctx`)."""
    max_answer_chars: int | None = 64 * 1024
    """Characters one answer may hold (text and tool-call arguments), whatever the server
    does with `max_tokens`: past it the stream is cut and the answer ends with a marker."""


@dataclass(frozen=True, kw_only=True)
class ModelRequest:
    messages: Sequence[Message]
    tools: Sequence[ToolSpec]
    settings: ModelSettings = field(default_factory=ModelSettings)
    now: datetime | None = None
    """The agent's clock; the built-in engine resolves relative dates against it."""


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ToolCallChunk:
    call: ToolCall
    recovered: bool = False
    """True when the call was parsed out of the model's text rather than sent natively."""
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class UsageChunk:
    input_tokens: int
    output_tokens: int
    estimated: bool = False
    """True when the server reported no usage and the numbers are estimates."""
    details: dict[str, Any] = field(default_factory=dict)
    """Server-reported extras, e.g. Ollama's durations in seconds."""
    kind: Literal["usage"] = "usage"


NoticeKind = Literal["attempt", "retry", "fallback", "skip", "abandon", "stream_retry"]


@dataclass(frozen=True)
class NoticeChunk:
    """What a composite backend (the fallback chain) or a protocol workaround did, and why.

    `attempt` names the backend now answering; the loop attributes later chunks to it.
    """

    notice: NoticeKind
    backend: BackendInfo
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    kind: Literal["notice"] = "notice"


Chunk: TypeAlias = TextDelta | ToolCallChunk | UsageChunk | NoticeChunk


def truncation_marker(limit: int) -> str:
    return f"\n\n[answer cut: it passed the limit of {limit} characters]"


@dataclass
class AnswerBudget:
    """What one answer may still hold; the streams of every network backend pass through it.

    A server may ignore `max_tokens` (or be hostile): without a cap, one answer grew the
    process without bound and fed megabytes to every parser after it.
    """

    limit: int | None
    used: int = 0
    cut: bool = False
    """True once the limit was reached: the caller stops reading the stream."""

    def take(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        """The chunks that fit; the one that does not is cut and ends with the marker."""
        if self.limit is None:
            return list(chunks)
        out: list[Chunk] = []
        for chunk in chunks:
            if isinstance(chunk, TextDelta):
                size = len(chunk.text)
            elif isinstance(chunk, ToolCallChunk):
                size = len(chunk.call.name) + len(json.dumps(chunk.call.arguments, default=str))
            else:
                out.append(chunk)  # usage and notices cost nothing
                continue
            if self.cut:
                continue
            if self.used + size <= self.limit:
                self.used += size
                out.append(chunk)
                continue
            self.cut = True
            head = chunk.text[: self.limit - self.used] if isinstance(chunk, TextDelta) else ""
            out.append(TextDelta(head + truncation_marker(self.limit)))
            self.used = self.limit
        return out


def decode_batch(
    feed: Callable[[list[Chunk]], bool],
    budget: AnswerBudget | None = None,
) -> tuple[list[Chunk], bool, BackendError | None]:
    """Decode one batch of a stream's lines: (its chunks, whether the answer ended, the error).

    `feed` appends the chunks its lines make and says whether the answer's last line came.
    Adjacent text deltas are joined, so what arrived together is relayed as one token event.
    What came before an error line is returned with the error, to be relayed before it.
    With a `budget`, an answer past its limit ends here: cut, with a marker.
    """
    made: list[Chunk] = []
    done, error = False, None
    try:
        done = feed(made)
    except BackendError as exc:
        error = exc
    out: list[Chunk] = []
    for chunk in made:
        previous = out[-1] if out else None
        if isinstance(chunk, TextDelta) and isinstance(previous, TextDelta):
            out[-1] = TextDelta(previous.text + chunk.text)
        else:
            out.append(chunk)
    if budget is not None:
        out = budget.take(out)
        if budget.cut:
            return out, True, None
    return out, done, error


class Backend(abc.ABC):
    """A model that answers chat requests with text and tool calls, streaming."""

    info: BackendInfo

    @abc.abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Yield text deltas and complete tool calls, then one UsageChunk.

        Raise only `BackendError` subclasses; closing the iterator early must close the
        request, so that a cancelled run stops the server generating.
        """

    def for_turn(self) -> Backend:
        """This backend as one run sees it. A chain remembers, for that run only, which of
        its backends failed, so that the run's next model call does not wait on them again;
        a single backend has nothing to remember and returns itself."""
        return self

    def give_up_on(self, name: str, reason: str) -> str | None:
        """Told that backend `name`'s answers stay unusable (e.g. invalid tool calls after a
        corrective round): the name of the backend that answers from now on, or None when
        there is nowhere better to go (a single backend keeps answering)."""
        return None

    async def aclose(self) -> None:
        """Release connections. Backends are long-lived: one per profile, not per call."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.name} model={self.info.model!r}>"
