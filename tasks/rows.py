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

import contextlib
import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
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
    sql = _insert_sql(table, columns, len(rows)) + " RETURNING id"
    cursor.execute(sql, [value for values in rows for value in values])
    return [r[0] for r in cursor.fetchall()]


def _insert_sql(table: str, columns: Sequence[str], rows: int) -> str:
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([row] * rows)


def message_values(
    conversation_id: int,
    run_id: int | None,
    message: CoreMessage,
    *,
    abandoned: bool = False,
    stamp: Any = None,
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
        _now() if stamp is None else stamp,
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


# -- a turn's start ---------------------------------------------------------------------------
NEW_TITLE = "New conversation"


_RUN_START_COLUMNS = (
    "conversation_id", "user_message_id", "status", "route", "answered_by", "started_at",
    "input_tokens", "output_tokens", "cost", "model_calls", "tool_calls", "tool_errors", "error",
    "worker",
)  # fmt: skip
_OWNER_RUNNING = (
    # Both databases walk the owner's conversations (index) and, per conversation, the
    # partial unique index of its running run: no scan of every running run.
    f"SELECT COUNT(*) FROM {_RUN} WHERE status = 'running' AND conversation_id IN"
    f" (SELECT id FROM {_CONVERSATION} WHERE owner_id = %s)"
)
_TOUCH = "updated_at = %s, title = CASE WHEN title = %s THEN %s ELSE title END"
_CURRENT = ("route", "owner_id", "title", "local_only")


def start_rows(
    cursor: CursorWrapper,
    conversation: Conversation,
    text: str,
    *,
    title: str,
    default_route: str,
    worker: str,
    now: dt.datetime,
    max_running: int | None = None,
) -> tuple[int, int, dict[str, Any]] | None:
    """The user's message, its run and the conversation's touch: (message id, run id, the
    conversation's current route, owner, title and local_only), or None when the owner has
    `max_running` runs going already. Inside a transaction, or alone on PostgreSQL, where it
    is one statement (`one_statement`).

    The run's route is the conversation's route as stored now (not as a tab last saw it),
    or `default_route` when it has none."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    user = CoreMessage(role="user", content=text)
    message = message_values(conversation.pk, None, user, stamp=stamp)  # the run's moment
    run_values = [conversation.pk, None, RunStatus.RUNNING.value, None, "", stamp,
                  0, 0, _cost(Decimal(0)), 0, 0, 0, "", worker]  # fmt: skip
    if one_statement():
        return _start_in_one_statement(
            cursor, conversation, message, run_values, title, default_route, max_running
        )
    if max_running is not None:
        cursor.execute(_OWNER_RUNNING, [conversation.owner_id])
        if int(cursor.fetchone()[0]) >= max_running:
            return None
    (message_id,) = insert_messages(cursor, [message])
    cursor.execute(
        f"UPDATE {_CONVERSATION} SET {_TOUCH} WHERE id = %s RETURNING {', '.join(_CURRENT)}",
        [stamp, NEW_TITLE, title, conversation.pk],
    )
    found = cursor.fetchone()
    if found is None:
        raise Conversation.DoesNotExist(f"conversation {conversation.pk} is gone")
    current = _current(found)
    run_values[1], run_values[3] = message_id, current["route"] or default_route
    (run_id,) = insert_returning_ids(cursor, _RUN, _RUN_START_COLUMNS, [run_values])
    cursor.execute(f"UPDATE {_MESSAGE} SET run_id = %s WHERE id = %s", [run_id, message_id])
    return message_id, run_id, current


def _current(found: Sequence[Any]) -> dict[str, Any]:
    current = dict(zip(_CURRENT, found, strict=True))
    current["local_only"] = bool(current["local_only"])
    return current


def _start_in_one_statement(
    cursor: CursorWrapper,
    conversation: Conversation,
    message: tuple[Any, ...],
    run_values: list[Any],
    title: str,
    default_route: str,
    max_running: int | None,
) -> tuple[int, int, dict[str, Any]] | None:
    """`start_rows` as one PostgreSQL statement: the message and run take ids drawn first
    (each points at the other; Django's foreign keys are checked at commit), so the four
    writes go in one round trip instead of seven with the transaction's."""
    stamp = run_values[5]
    ids = (
        f"SELECT nextval(pg_get_serial_sequence('{_MESSAGE}', 'id')) AS m,"
        f" nextval(pg_get_serial_sequence('{_RUN}', 'id')) AS r"
    )
    params: list[Any] = []
    if max_running is not None:
        ids += f" WHERE ({_OWNER_RUNNING}) < %s"
        params += [conversation.owner_id, max_running]
    message_select = ", ".join("ids.r" if c == "run_id" else "%s" for c in MESSAGE_COLUMNS)
    params += [stamp, NEW_TITLE, title, conversation.pk]
    params += [v for c, v in zip(MESSAGE_COLUMNS, message, strict=True) if c != "run_id"]
    run_select = ", ".join(
        "ids.m" if c == "user_message_id" else
        "COALESCE(NULLIF(c.route, ''), %s)" if c == "route" else "%s"
        for c in _RUN_START_COLUMNS
    )  # fmt: skip
    params += [default_route if c == "route" else v
               for c, v in zip(_RUN_START_COLUMNS, run_values, strict=True)
               if c != "user_message_id"]  # fmt: skip
    cursor.execute(
        f"WITH ids AS ({ids}),"
        f" c AS (UPDATE {_CONVERSATION} SET {_TOUCH} WHERE id = %s"
        f" AND EXISTS (SELECT 1 FROM ids) RETURNING {', '.join(_CURRENT)}),"
        f" msg AS (INSERT INTO {_MESSAGE} (id, {', '.join(MESSAGE_COLUMNS)})"
        f" SELECT ids.m, {message_select} FROM ids, c),"
        f" run AS (INSERT INTO {_RUN} (id, {', '.join(_RUN_START_COLUMNS)})"
        f" SELECT ids.r, {run_select} FROM ids, c)"
        f" SELECT ids.m, ids.r, {', '.join('c.' + n for n in _CURRENT)} FROM ids, c",
        params,
    )
    found = cursor.fetchone()
    if found is None:
        if not Conversation.objects.filter(pk=conversation.pk).exists():
            raise Conversation.DoesNotExist(f"conversation {conversation.pk} is gone")
        return None  # the owner's runs are at the cap: nothing was written
    return int(found[0]), int(found[1]), _current(found[2:])


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
    _closed(run, fields)


def _closed(run: AgentRun, fields: dict[str, Any]) -> None:
    """The run in memory says what its row now says; `run_closed`'s listeners hear of it."""
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
    steps in another, what they change on the run in one UPDATE; the steps' ids (None for
    tokens). On PostgreSQL the three are one statement (`one_statement`).

    `items` are `(event, new messages)`. Tokens are not stored: the model_response step has
    the whole text.
    """
    messages: list[tuple[Any, ...]] = []
    steps: list[Event] = []
    changes: dict[str, Any] = {}
    closed: RunFinished | None = None
    for event, new_messages in items:
        messages += [message_values(run.conversation_id, run.pk, m) for m in new_messages]
        p = event.payload
        if isinstance(p, FellBack) and p.notice == "abandon" and p.abandoned_text:
            # Kept (shown, never sent to a model) in its place among the run's messages.
            text = CoreMessage(role="assistant", content=p.abandoned_text)
            messages.append(message_values(run.conversation_id, run.pk, text, abandoned=True))
        elif isinstance(p, Failed):
            changes["error"] = str(storable(p.message))[:2000]
        elif isinstance(p, RunFinished):
            closed = p
            changes.update(close_fields(run, p))
        if event.type != "token":
            steps.append(event)
    step_rows = [step_values(run.pk, e) for e in steps]
    if one_statement():
        ids = iter(_store_in_one_statement(cursor, run.pk, messages, step_rows, changes))
    else:
        insert_messages(cursor, messages)
        ids = iter(insert_returning_ids(cursor, _STEP, STEP_COLUMNS, step_rows))
        if changes:
            update_run(cursor, run.pk, changes)
    if closed is not None:
        _closed(run, changes)
    return [None if event.type == "token" else next(ids) for event, _ in items]


def one_statement() -> bool:
    """Whether `start_rows` and `store_events` write in one statement, atomic by itself (no
    transaction needed around it): PostgreSQL's data-modifying WITH. SQLite has none."""
    return connection.vendor == "postgresql"


def atomic_unless_one_statement() -> AbstractContextManager[Any]:
    """The transaction several statements need; none around one (no BEGIN and COMMIT)."""
    return contextlib.nullcontext() if one_statement() else transaction.atomic()


def _store_in_one_statement(
    cursor: CursorWrapper,
    run_id: int,
    messages: Sequence[tuple[Any, ...]],
    step_rows: Sequence[tuple[Any, ...]],
    changes: dict[str, Any],
) -> list[int]:
    """Messages, steps and the run's update in one round trip: on PostgreSQL every
    statement is a round trip, and a trip's five (BEGIN, three writes, COMMIT) were most of
    a turn's CPU there (psycopg's socket calls, py-spy)."""
    parts: list[str] = []
    params: list[Any] = []
    if messages:
        parts.append(f"m AS ({_insert_sql(_MESSAGE, MESSAGE_COLUMNS, len(messages))})")
        params += [value for row in messages for value in row]
    if changes:
        names = list(changes)
        sets = ", ".join(f"{n} = %s" for n in names)
        parts.append(f"r AS (UPDATE {_RUN} SET {sets} WHERE id = %s)")
        params += [_adapt_run_value(n, changes[n]) for n in names] + [run_id]
    head = f"WITH {', '.join(parts)} " if parts else ""
    if step_rows:
        body = _insert_sql(_STEP, STEP_COLUMNS, len(step_rows)) + " RETURNING id"
        params += [value for row in step_rows for value in row]
    else:
        body = "SELECT NULL WHERE FALSE"
    cursor.execute(head + body, params)
    return [r[0] for r in cursor.fetchall()]
