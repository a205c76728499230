"""Typed run events: what the loop reports, what the app persists and streams to browsers."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

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


@dataclass(frozen=True, kw_only=True)
class Event:
    """One step of a run. `seq` orders events within a run; clients catch up by it."""

    type: EventType
    run_id: str
    seq: int
    ts: float = field(default_factory=time.time)
    """Wall-clock time (epoch seconds) when the event was made."""
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "run_id": self.run_id,
            "seq": self.seq,
            "ts": self.ts,
            "payload": self.payload,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, ensure_ascii=False)


class EventFactory:
    """Numbers the events of one run, so that every event has a unique, ordered `seq`."""

    def __init__(self, run_id: str, *, start: int = 0) -> None:
        self.run_id = run_id
        self._seq = start

    def __call__(self, type: EventType, **payload: Any) -> Event:
        self._seq += 1
        return Event(type=type, run_id=self.run_id, seq=self._seq, payload=payload)
