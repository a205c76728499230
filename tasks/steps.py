"""The one mapper between run events and stored `RunStep` rows.

Everything that reads a step's payload goes through `event_from_step`, which gives the typed
payload of `agentcore.events`; nothing reads payload keys by string elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from agentcore.events import Event, ModelResponded, payload_from_dict

from .models import AgentRun, RunStep


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


def step_row(*, run: AgentRun, event: Event) -> RunStep:
    """The unsaved audit-trail step for an event (`tasks.step_writer` inserts them in bulk)."""
    p = event.payload
    backend = getattr(p, "backend", "")
    response = p if isinstance(p, ModelResponded) else None
    return RunStep(
        run=run,
        seq=event.seq,
        type=event.type,
        ts=dt.datetime.fromtimestamp(event.ts, tz=dt.timezone.utc),
        backend=str(storable(backend) if isinstance(backend, str) else "")[:200],
        model=str(storable(getattr(p, "model", "")) or "")[:200],
        duration_ms=getattr(p, "duration_ms", None),
        ttft_ms=getattr(p, "ttft_ms", None),
        input_tokens=response.input_tokens if response else 0,
        output_tokens=response.output_tokens if response else 0,
        cost=decimal(response.cost) if response else Decimal(0),
        payload=storable(dataclasses.asdict(p)),
    )


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
        return dataclasses.asdict(payload)
    return dict(payload or {})
