"""A turn's rows in set-based SQL: its start, its steps and messages, its close.

The hot path of a turn wrote through the ORM: per builtin turn 23 statements in 5 trips to
Django's database thread, and model instances, SQL compilation and wrappers took ~60% of the
server's CPU (py-spy at 50 concurrent conversations; issue #15). Here the same rows are
written the way the plain-SQL floor of `benchmarks.floor_apps` writes them: one statement per
table and trip (multi-row `INSERT ... RETURNING id`), values adapted by the connection's own
`ops` (as the ORM adapts them, so a row reads back the same through the models), and on
Django's connection, so transactions, savepoints, statement wrappers and error translation
stay Django's.

The functions run on the database thread inside the caller's transaction; none commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from agentcore.events import FINAL_STATUSES, Event, Failed, FellBack, ModelResponded, RunFinished
from agentcore.messages import Message as CoreMessage

from .models import AgentRun, Conversation, Message, RunStatus, RunStep
from .run_signals import run_closed
from .steps import decimal, payload_dict, storable

_MESSAGE = Message._meta.db_table
_RUN = AgentRun._meta.db_table
_STEP = RunStep._meta.db_table
_CONVERSATION = Conversation._meta.db_table

MESSAGE_COLUMNS = (
    "conversation_id", "run_id", "role", "content", "tool_calls", "tool_call_id", "name",
    "abandoned", "created_at",
)  # fmt: skip
STEP_COLUMNS = (
    "run_id", "seq", "type", "ts", "backend", "model", "duration_ms", "ttft_ms",
    "input_tokens", "output_tokens", "cost", "payload",
)  # fmt: skip
_COST_DIGITS = (
    RunStep._meta.get_field("cost").max_digits,
    RunStep._meta.get_field("cost").decimal_places,
)


def _now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _json(value: Any) -> Any:
    return connection.ops.adapt_json_value(storable(value), None)


def _cost(value: Decimal) -> Any:
    return connection.ops.adapt_decimalfield_value(value, *_COST_DIGITS)


def insert_returning_ids(
    cursor: CursorWrapper, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """One multi-row INSERT; the new ids in the rows' order (as Django's bulk_create, which
    relies on both backends returning multi-row VALUES in order)."""
    if not rows:
        return []
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        + ", ".join([row] * len(rows))
        + " RETURNING id"
    )
    cursor.execute(sql, [value for values in rows for value in values])
    return [r[0] for r in cursor.fetchall()]


def message_values(
    conversation_id: int, run_id: int | None, message: CoreMessage, *, abandoned: bool = False
) -> tuple[Any, ...]:
    return (
        conversation_id,
        run_id,
        message.role,
        storable(message.content),
        _json([c.to_dict() for c in message.tool_calls]),
        storable(message.tool_call_id or ""),
        storable(message.name or ""),
        abandoned,
        _now(),
    )


def step_values(run_id: int, event: Event) -> tuple[Any, ...]:
    """The stored row of an event: its payload as JSON, the figures stats read as columns."""
    p = event.payload
    backend = getattr(p, "backend", "")
    response = p if isinstance(p, ModelResponded) else None
    ts = dt.datetime.fromtimestamp(event.ts, tz=dt.timezone.utc)
    return (
        run_id,
        event.seq,
        event.type,
        connection.ops.adapt_datetimefield_value(ts),
        str(storable(backend) if isinstance(backend, str) else "")[:200],
        str(storable(getattr(p, "model", "")) or "")[:200],
        getattr(p, "duration_ms", None),
        getattr(p, "ttft_ms", None),
        response.input_tokens if response else 0,
        response.output_tokens if response else 0,
        _cost(decimal(response.cost) if response else Decimal(0)),
        _json(payload_dict(p)),
    )


def insert_messages(cursor: CursorWrapper, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    return insert_returning_ids(cursor, _MESSAGE, MESSAGE_COLUMNS, rows)


def insert_steps(cursor: CursorWrapper, run_id: int, events: Iterable[Event]) -> list[int]:
    rows = [step_values(run_id, e) for e in events]
    return insert_returning_ids(cursor, _STEP, STEP_COLUMNS, rows)


# -- a turn's start ---------------------------------------------------------------------------
NEW_TITLE = "New conversation"


def running_runs_of_owner(cursor: CursorWrapper, owner_id: int) -> int:
    # Written so both databases walk the owner's conversations (index) and, per conversation,
    # the partial unique index of its running run: no scan of every running run.
    cursor.execute(
        f"SELECT COUNT(*) FROM {_RUN} WHERE status = %s AND conversation_id IN"
        f" (SELECT id FROM {_CONVERSATION} WHERE owner_id = %s)",
        [RunStatus.RUNNING.value, owner_id],
    )
    return int(cursor.fetchone()[0])


def start_rows(
    cursor: CursorWrapper,
    conversation: Conversation,
    text: str,
    *,
    title: str,
    default_route: str,
    worker: str,
    now: dt.datetime,
) -> tuple[int, int, dict[str, Any]]:
    """The user's message, its run and the conversation's touch: (message id, run id, the
    conversation's current route, owner, title and local_only — read by the same UPDATE).

    The run's route is the conversation's route as stored now (not as a tab last saw it),
    or `default_route` when it has none."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    user = CoreMessage(role="user", content=text)
    (message_id,) = insert_messages(cursor, [message_values(conversation.pk, None, user)])
    cursor.execute(
        f"UPDATE {_CONVERSATION} SET updated_at = %s,"
        " title = CASE WHEN title = %s THEN %s ELSE title END"
        " WHERE id = %s RETURNING route, owner_id, title, local_only",
        [stamp, NEW_TITLE, title, conversation.pk],
    )
    found = cursor.fetchone()
    if found is None:
        raise Conversation.DoesNotExist(f"conversation {conversation.pk} is gone")
    current = dict(zip(("route", "owner_id", "title", "local_only"), found, strict=True))
    current["local_only"] = bool(current["local_only"])
    (run_id,) = insert_returning_ids(
        cursor,
        _RUN,
        ("conversation_id", "user_message_id", "status", "route", "answered_by", "started_at",
         "input_tokens", "output_tokens", "cost", "model_calls", "tool_calls", "tool_errors",
         "error", "worker"),
        [(conversation.pk, message_id, RunStatus.RUNNING.value, current["route"] or default_route,
          "", stamp,
          0, 0, _cost(Decimal(0)), 0, 0, 0, "", worker)],
    )  # fmt: skip
    cursor.execute(f"UPDATE {_MESSAGE} SET run_id = %s WHERE id = %s", [run_id, message_id])
    return message_id, run_id, current


# -- a run's close ----------------------------------------------------------------------------
def close_fields(run: AgentRun, totals: RunFinished, error: str = "") -> dict[str, Any]:
    """What a run's row says once it ended (the same for the ORM objects in memory)."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": totals.status if totals.status in FINAL_STATUSES else RunStatus.FAILED,
        "finished_at": now,
        "duration_ms": totals.duration_ms or (now - run.started_at).total_seconds() * 1000,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cost": decimal(totals.cost),
        "model_calls": totals.model_calls,
        "tool_calls": totals.tool_calls,
        "tool_errors": totals.tool_errors,
        "answered_by": storable(totals.answered_by)[:200],
    }
    if error:
        fields["error"] = error[:2000]
    return fields


def close_run(cursor: CursorWrapper, run: AgentRun, totals: RunFinished, error: str = "") -> None:
    """The run's final row; the run in memory says the same, and `run_closed` is sent."""
    fields = close_fields(run, totals, error)
    update_run(cursor, run.pk, fields)
    for key, value in fields.items():
        setattr(run, key, value)
    run_closed.send(sender=AgentRun, run=run)  # e.g. the OpenTelemetry export, after commit


def _adapt_run_value(name: str, value: Any) -> Any:
    if name == "finished_at":
        return connection.ops.adapt_datetimefield_value(value)
    if name == "cost":
        return _cost(value)
    return value


def update_run(cursor: CursorWrapper, run_id: int, fields: dict[str, Any]) -> None:
    names = list(fields)
    values = [_adapt_run_value(n, fields[n]) for n in names]
    sets = ", ".join(f"{n} = %s" for n in names)
    cursor.execute(f"UPDATE {_RUN} SET {sets} WHERE id = %s", [*values, run_id])


def store_events(cursor: CursorWrapper, run: AgentRun, items: Sequence[Any]) -> list[int | None]:
    """A run's events, in order: their new messages (and abandoned texts) in one INSERT, their
    steps in another, then what they change on the run; the steps' ids (None for tokens).

    `items` are `(event, new messages)`. Tokens are not stored: the model_response step has
    the whole text.
    """
    messages: list[tuple[Any, ...]] = []
    steps: list[Event] = []
    for event, new_messages in items:
        messages += [message_values(run.conversation_id, run.pk, m) for m in new_messages]
        p = event.payload
        if isinstance(p, FellBack) and p.notice == "abandon" and p.abandoned_text:
            # Kept (shown, never sent to a model) in its place among the run's messages.
            text = CoreMessage(role="assistant", content=p.abandoned_text)
            messages.append(message_values(run.conversation_id, run.pk, text, abandoned=True))
        if event.type != "token":
            steps.append(event)
    insert_messages(cursor, messages)
    ids = iter(insert_steps(cursor, run.pk, steps))
    for event in steps:
        p = event.payload
        if isinstance(p, Failed):
            update_run(cursor, run.pk, {"error": str(storable(p.message))[:2000]})
        elif isinstance(p, RunFinished):
            close_run(cursor, run, p)
    return [None if event.type == "token" else next(ids) for event, _ in items]
