"""Typed run events: what the loop reports, what the app persists and streams to browsers.

Each event type has exactly one payload class, keyed by the `type` literal (`PAYLOADS`), and
events cross every boundary (JSON to scripts, the channel layer, stored steps) through
`Event.to_dict` / `event_from_dict` only: nobody reads a payload by string key, so a renamed
field is a type error, not a silently empty trace.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias, get_args

EventType = Literal[
    "run_started",
    "model_request",
    "token",
    "model_response",
    "tool_call",
    "tool_result",
    "approval_required",
    "approval_decision",
    "retry",
    "fallback",
    "error",
    "final",
    "run_finished",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))

RunStatus = Literal["running", "completed", "failed", "interrupted", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset(get_args(RunStatus)) - {"running"}
Decision = Literal["approve", "reject"]


# Every field has a default, so that steps stored by an older version still load.
@dataclass(frozen=True, kw_only=True)
class RunStarted:
    type: ClassVar[EventType] = "run_started"
    backend: dict[str, Any] = field(default_factory=dict)
    """The route's backend (`BackendInfo.to_dict()`)."""


@dataclass(frozen=True, kw_only=True)
class ModelRequested:
    type: ClassVar[EventType] = "model_request"
    step: int = 0
    """1-based model call of the run."""
    backend: str = ""
    model: str = ""
    messages: int = 0
    """Messages sent, system prompt included."""


@dataclass(frozen=True, kw_only=True)
class Token:
    type: ClassVar[EventType] = "token"
    text: str = ""
    backend: str = ""


@dataclass(frozen=True, kw_only=True)
class ModelResponded:
    type: ClassVar[EventType] = "model_response"
    backend: str = ""
    model: str = ""
    locality: str = "local"
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    recovered: bool = False
    """True when the calls were parsed out of the text rather than sent natively."""
    ttft_ms: float | None = None
    duration_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    usage_details: dict[str, Any] = field(default_factory=dict)
    cost: str = "0"
    """Dollars, as a decimal string (exact, and JSON-safe)."""


@dataclass(frozen=True, kw_only=True)
class ToolCalled:
    type: ClassVar[EventType] = "tool_call"
    call_id: str = ""
    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    recovered: bool = False


@dataclass(frozen=True, kw_only=True)
class ToolResulted:
    type: ClassVar[EventType] = "tool_result"
    call_id: str = ""
    name: str = ""
    content: str = ""
    """What the model reads."""
    value: Any = None
    """The tool's structured return value, for the trace."""
    error: str | None = None
    invalid: bool = False
    """True when the call never ran: unknown tool, bad arguments, or over a cap."""
    duration_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalRequired:
    type: ClassVar[EventType] = "approval_required"
    call_id: str = ""
    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    expires_at: float | None = None
    """Epoch seconds after which the call counts as rejected."""


@dataclass(frozen=True, kw_only=True)
class ApprovalDecided:
    type: ClassVar[EventType] = "approval_decision"
    call_id: str = ""
    decision: Decision = "reject"
    reason: str = ""
    """Why, when the user did not decide (e.g. the approval expired)."""


@dataclass(frozen=True, kw_only=True)
class Notice:
    """What the fallback chain did (retry, skip, fall back, abandon), with its reason."""

    type: ClassVar[EventType]
    notice: str = ""
    backend: str = ""
    reason: str = ""
    attempt: int | None = None
    max_retries: int | None = None
    delay_s: float | None = None
    error_kind: str | None = None
    status: int | None = None
    next: str | None = None
    policy: str | None = None
    open_until: str | None = None
    abandoned_text: str = ""
    """For `abandon`: the text that had streamed and is now void."""
    duration_ms: float | None = None
    """The failed attempt's own time (a retry or fallback), charged to its backend."""


@dataclass(frozen=True, kw_only=True)
class Retried(Notice):
    type: ClassVar[EventType] = "retry"


@dataclass(frozen=True, kw_only=True)
class FellBack(Notice):
    type: ClassVar[EventType] = "fallback"


@dataclass(frozen=True, kw_only=True)
class Failed:
    type: ClassVar[EventType] = "error"
    kind: str = ""
    backend: str = ""
    status: int | None = None
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class Answered:
    type: ClassVar[EventType] = "final"
    text: str = ""
    backend: str = ""


@dataclass(frozen=True, kw_only=True)
class RunFinished:
    type: ClassVar[EventType] = "run_finished"
    status: RunStatus = "failed"
    duration_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: str = "0"
    model_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    answered_by: str = ""


Payload: TypeAlias = (
    RunStarted
    | ModelRequested
    | Token
    | ModelResponded
    | ToolCalled
    | ToolResulted
    | ApprovalRequired
    | ApprovalDecided
    | Retried
    | FellBack
    | Failed
    | Answered
    | RunFinished
)
PAYLOADS: dict[str, type[Payload]] = {
    cls.type: cls
    for cls in (
        RunStarted,
        ModelRequested,
        Token,
        ModelResponded,
        ToolCalled,
        ToolResulted,
        ApprovalRequired,
        ApprovalDecided,
        Retried,
        FellBack,
        Failed,
        Answered,
        RunFinished,
    )
}
assert set(PAYLOADS) == EVENT_TYPES


def payload_from_dict(type: str, data: dict[str, Any]) -> Payload:
    """The payload of an event of `type` from its JSON form; unknown keys are dropped.

    Raises `ValueError` for an unknown type (data from a client or a newer version).
    """
    cls = PAYLOADS.get(type)
    if cls is None:
        raise ValueError(f"unknown event type {type!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """`value` as JSON-shaped data: dataclasses become dicts, tuples lists, recursively.

    What `dataclasses.asdict` gives, without its deep copy of every leaf: each event is
    turned into a dict for its stored step and again for each frame, and `asdict` was the
    largest single cost of doing so (issue #15). Leaves are immutable (str, numbers, None);
    every container is new, so changing the result changes nothing in the event.
    """
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    cls = type(value)
    names = _FIELD_NAMES.get(cls)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, kw_only=True)
class Event:
    """One step of a run. `seq` orders events within a run; clients catch up by it."""

    run_id: str
    seq: int
    payload: Payload
    ts: float = field(default_factory=time.time)
    """Wall-clock time (epoch seconds) when the event was made."""
    step_id: int | None = None
    """The stored step this event is, or (for a token) the last step stored before it: the
    cursor a client reconnects after. Set by the app once the step is committed."""

    @property
    def type(self) -> EventType:
        return self.payload.type

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "run_id": self.run_id,
            "seq": self.seq,
            "ts": self.ts,
            "payload": plain(self.payload),
        }
        if self.step_id is not None:
            data["step"] = self.step_id
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, ensure_ascii=False)


def event_from_dict(data: dict[str, Any]) -> Event:
    """The inverse of `Event.to_dict` (channel-layer messages); ValueError on a bad shape."""
    try:
        step = data.get("step")
        return Event(
            run_id=str(data["run_id"]),
            seq=int(data["seq"]),
            ts=float(data["ts"]),
            payload=payload_from_dict(str(data["type"]), dict(data["payload"])),
            step_id=int(step) if step is not None else None,
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not an event: {exc}") from None


class EventFactory:
    """Numbers the events of one run, so that every event has a unique, ordered `seq`."""

    def __init__(self, run_id: str, *, start: int = 0) -> None:
        self.run_id = run_id
        self._seq = start

    @property
    def last_seq(self) -> int:
        return self._seq

    def __call__(self, payload: Payload) -> Event:
        self._seq += 1
        return Event(run_id=self.run_id, seq=self._seq, payload=payload)
