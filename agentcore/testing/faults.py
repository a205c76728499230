"""Faults the ScriptedServer can inject into one call, as data in its script.

A fault takes the place of a turn in the script (`[status(503), "ok"]`: the first call fails,
the second answers), or wraps one (`truncate_stream("a long answer")`). Backend errors from
the `ScriptedBackend` vocabulary work too: `BackendHTTPError(status=429, retry_after=2)` is
the same as `rate_limit(retry_after=2)`, so a script can move between the two levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..errors import BackendError, BackendHTTPError, BackendTimeout, BackendUnavailable

if TYPE_CHECKING:
    from .scripted import Turn

FaultKind = Literal[
    "refuse",
    "stall",
    "stall_after_headers",
    "status",
    "truncate_stream",
    "malformed_json",
    "tool_call_in_text",
    "empty_stream",
    "stream_error",
]


@dataclass(frozen=True, kw_only=True)
class Fault:
    kind: FaultKind
    seconds: float = 0.0
    """For `stall`: how long to wait before the first byte."""
    status: int = 0
    """For `status`: the HTTP status to answer with."""
    message: str = ""
    """For `status`: the error message in the protocol's error body."""
    retry_after: str | None = None
    """For `status`: the Retry-After header value (seconds or an HTTP date)."""
    turn: Turn | None = None
    """The answer the fault applies to (stall, truncate_stream, tool_call_in_text, ...)."""


def refuse() -> Fault:
    """Read the request, then close the connection without a response."""
    return Fault(kind="refuse")


def stall(seconds: float, then: Turn | None = None) -> Fault:
    """Wait `seconds` before the first byte, then answer `then` (or close if None)."""
    return Fault(kind="stall", seconds=seconds, turn=then)


def stall_after_headers(seconds: float, then: Turn = "A late answer") -> Fault:
    """Send 200 and the headers, then nothing for `seconds`, then stream `then`."""
    return Fault(kind="stall_after_headers", seconds=seconds, turn=then)


def status(code: int, message: str = "", *, retry_after: str | float | None = None) -> Fault:
    """Answer with an HTTP error status and the protocol's error body."""
    after = None if retry_after is None else str(retry_after)
    return Fault(kind="status", status=code, message=message, retry_after=after)


def rate_limit(retry_after: str | float = 2) -> Fault:
    """429 Too Many Requests with a Retry-After header."""
    return status(429, "rate limit exceeded", retry_after=retry_after)


def context_too_long() -> Fault:
    """400 with the message OpenAI-style servers send when the prompt does not fit."""
    return status(
        400, "This model's maximum context length is 2048 tokens; your messages were longer."
    )


def truncate_stream(turn: Turn = "This answer will be cut off in the middle") -> Fault:
    """Send the first half of the streamed answer, then drop the connection."""
    return Fault(kind="truncate_stream", turn=turn)


def malformed_json(turn: Turn = "This answer has a broken line") -> Fault:
    """Put a line of broken JSON into the answer."""
    return Fault(kind="malformed_json", turn=turn)


def tool_call_in_text(turn: Turn) -> Fault:
    """Write the turn's tool calls as JSON text, as small models do, instead of natively."""
    return Fault(kind="tool_call_in_text", turn=turn)


def empty_stream() -> Fault:
    """Answer 200 with an empty body (llama-cpp-python's server does this for some tool calls)."""
    return Fault(kind="empty_stream")


def stream_error(message: str, turn: Turn = "Partial answer") -> Fault:
    """HTTP 200, part of the answer, then an in-stream error object (Ollama does this)."""
    return Fault(kind="stream_error", message=message, turn=turn)


def fault_for_exception(exc: Exception) -> Fault:
    """The wire fault that makes a real backend raise `exc` (ScriptedBackend's vocabulary)."""
    if isinstance(exc, BackendHTTPError):
        after = None if exc.retry_after is None else f"{exc.retry_after:g}"
        return status(exc.status, str(exc), retry_after=after)
    if isinstance(exc, BackendUnavailable):
        return refuse()
    if isinstance(exc, BackendTimeout):
        return stall(3600)
    if isinstance(exc, BackendError):
        return malformed_json()
    return status(500, str(exc))
