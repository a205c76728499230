"""The one mapper between run events and stored `RunStep` rows.

Everything that reads a step's payload goes through `event_from_step`, which gives the typed
payload of `agentcore.events`; nothing reads payload keys by string elsewhere.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

from agentcore.events import Event, payload_from_dict, plain

from .models import RunStep


def storable(value: Any) -> Any:
    """`value` with NUL characters replaced, in strings nested in dicts and lists too.

    Model output and user text may hold NUL (U+0000), which PostgreSQL refuses in text and
    jsonb columns: unreplaced, one hostile character would fail the whole write.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except (ArithmeticError, InvalidOperation):
        return Decimal(0)


def event_from_step(step: RunStep) -> Event:
    """The event a stored step was made from, with its step id as the client's cursor."""
    payload = step.payload if isinstance(step.payload, dict) else {}
    return Event(
        run_id=str(step.run_id),
        seq=step.seq,
        ts=step.ts.timestamp(),
        payload=payload_from_dict(step.type, payload),
        step_id=step.pk,
    )


def payload_dict(payload: Any) -> dict[str, Any]:
    """A payload in its stored shape: a step's JSON as it is, a live event's typed payload
    as the dict it is stored as (templates and filters read both alike)."""
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        as_dict: dict[str, Any] = plain(payload)
        return as_dict
    return dict(payload or {})
