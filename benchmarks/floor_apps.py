"""The floor a builtin turn is compared with: two chat consumers that do the least possible.

Both are served exactly as Taskweb is (`benchmarks.serve`: the same daphne, the same
settings, origin check and session authentication) and answer a `user_message` frame with
the same 10 JSON frames a builtin turn sends, so the same client harness drives all three:

- `EchoConsumer`: no database at all; what the web stack alone costs per turn.
- `PlainSQLConsumer`: the rows a builtin turn writes today (4 messages, 1 run, 1 task,
  9 steps, 3 updates and 1 history read; counted after a real turn), in one trip to Django's
  database thread, one transaction and 9 statements with multi-row INSERTs. It reads the
  newest messages only, the bounded history a turn needs.

Neither skips a safety check Taskweb makes per frame (size, JSON, message type): they skip
the ORM, the agent loop and the per-frame `close_old_connections` hop of Channels, which a
database trip does by itself.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from itertools import count
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connection, transaction

from agentcore.compat import UTC

HISTORY_ROWS = 40
"""Newest messages the plain-SQL turn reads (the bounded history a model is sent)."""
ANSWER = 'Created task #{task} "Buy milk" (due Sun 2026-11-29, medium priority).'
ARGS = {"title": "Buy milk", "description": "", "priority": "medium", "due_date": "2026-11-29",
        "tags": []}  # fmt: skip
BACKEND = {"name": "builtin", "kind": "builtin", "model": "rules", "locality": "local",
           "price_in_per_mtok": "0", "price_out_per_mtok": "0"}  # fmt: skip
_runs = count(1)


def turn_events(run_id: int, task_id: int) -> list[dict[str, Any]]:
    """The 10 events of a builtin "add a task" turn, shaped and sized as Taskweb's."""
    answer = ANSWER.format(task=task_id)
    task = {"id": task_id, **ARGS, "status": "open", "created_at": dt.datetime.now(UTC)
            .isoformat(), "completed_at": None}  # fmt: skip
    response = {"backend": "builtin", "model": "rules", "locality": "local", "recovered": False,
                "ttft_ms": 0.5, "duration_ms": 0.6, "tokens_estimated": True,
                "usage_details": {}, "cost": "0"}  # fmt: skip
    call = {"id": "call_1", "name": "create_task", "arguments": ARGS}
    payloads: list[tuple[str, dict[str, Any]]] = [
        ("run_started", {"backend": BACKEND}),
        ("model_request", {"step": 1, "backend": "builtin", "model": "rules", "messages": 2}),
        ("model_response", {**response, "text": "", "tool_calls": [call], "input_tokens": 124,
                            "output_tokens": 39}),
        ("tool_call", {"call_id": "call_1", "name": "create_task", "arguments": ARGS,
                       "recovered": False}),
        ("tool_result", {"call_id": "call_1", "name": "create_task", "content": json.dumps(task),
                         "value": task, "error": None, "invalid": False, "duration_ms": 1.0}),
        ("model_request", {"step": 2, "backend": "builtin", "model": "rules", "messages": 4}),
        ("token", {"text": answer, "backend": "builtin"}),
        ("model_response", {**response, "text": answer, "tool_calls": [], "input_tokens": 207,
                            "output_tokens": 17}),
        ("final", {"text": answer, "backend": "builtin"}),
        ("run_finished", {"status": "completed", "duration_ms": 1.0, "input_tokens": 331,
                          "output_tokens": 56, "cost": "0", "model_calls": 2, "tool_calls": 1,
                          "tool_errors": 0, "answered_by": "builtin"}),
    ]  # fmt: skip
    return [
        {"type": kind, "run_id": str(run_id), "seq": seq, "ts": time.time(), "payload": payload}
        for seq, (kind, payload) in enumerate(payloads, start=1)
    ]


def _values(rows: int, columns: int) -> str:
    row = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([row] * rows)


@database_sync_to_async
def plain_sql_turn(conversation_id: int, owner_id: int, text: str) -> list[dict[str, Any]]:
    """A builtin turn's rows in one trip, one transaction and 9 statements; its events."""
    ops = connection.ops
    now = ops.adapt_datetimefield_value(dt.datetime.now(UTC))
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tasks_message (conversation_id, role, content, tool_calls, tool_call_id,"
            " name, abandoned, created_at) VALUES (%s, 'user', %s, '[]', '', '', %s, %s)"
            " RETURNING id",
            [conversation_id, text, False, now],
        )
        message_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO tasks_agentrun (conversation_id, user_message_id, status, route,"
            " answered_by, started_at, input_tokens, output_tokens, cost, model_calls,"
            " tool_calls, tool_errors, error, worker) VALUES (%s, %s, 'running', 'builtin', '',"
            " %s, 0, 0, '0', 0, 0, 0, '', 'floor') RETURNING id",
            [conversation_id, message_id, now],
        )
        run_id = cur.fetchone()[0]
        cur.execute("UPDATE tasks_message SET run_id = %s WHERE id = %s", [run_id, message_id])
        cur.execute(
            "UPDATE tasks_conversation SET updated_at = %s, title = CASE WHEN title ="
            " 'New conversation' THEN %s ELSE title END WHERE id = %s",
            [now, text[:60], conversation_id],
        )
        cur.execute(
            "SELECT role, content, tool_calls, tool_call_id, name FROM tasks_message"
            " WHERE conversation_id = %s AND abandoned = %s ORDER BY id DESC LIMIT %s",
            [conversation_id, False, HISTORY_ROWS],
        )
        cur.fetchall()
        cur.execute(
            "INSERT INTO tasks_task (owner_id, title, description, priority, status, due_date,"
            " tags, created_at, updated_at) VALUES (%s, 'Buy milk', '', 'medium', 'open',"
            " '2026-11-29', '[]', %s, %s) RETURNING id",
            [owner_id, now, now],
        )
        task_id = cur.fetchone()[0]
        events = turn_events(run_id, task_id)
        call = json.dumps([{"id": "call_1", "name": "create_task", "arguments": ARGS}])
        answer = ANSWER.format(task=task_id)
        cur.execute(
            "INSERT INTO tasks_message (conversation_id, run_id, role, content, tool_calls,"
            " tool_call_id, name, abandoned, created_at) VALUES " + _values(3, 9),
            [conversation_id, run_id, "assistant", "", call, "", "", False, now,
             conversation_id, run_id, "tool", events[4]["payload"]["content"], "[]", "call_1",
             "create_task", False, now,
             conversation_id, run_id, "assistant", answer, "[]", "", "", False, now],
        )  # fmt: skip
        steps = [e for e in events if e["type"] != "token"]
        params: list[Any] = []
        for e in steps:
            p = e["payload"]
            params += [run_id, e["seq"], e["type"], ops.adapt_datetimefield_value(
                dt.datetime.fromtimestamp(e["ts"], tz=UTC)), "builtin", "rules",
                p.get("duration_ms"), p.get("ttft_ms"), p.get("input_tokens", 0),
                p.get("output_tokens", 0), "0", json.dumps(p)]  # fmt: skip
        cur.execute(
            "INSERT INTO tasks_runstep (run_id, seq, type, ts, backend, model, duration_ms,"
            " ttft_ms, input_tokens, output_tokens, cost, payload) VALUES "
            + _values(len(steps), 12),
            params,
        )
        cur.execute(
            "UPDATE tasks_agentrun SET status = 'completed', finished_at = %s, duration_ms = 1,"
            " input_tokens = 331, output_tokens = 56, model_calls = 2, tool_calls = 1,"
            " answered_by = 'builtin' WHERE id = %s",
            [now, run_id],
        )
    return events


class EchoConsumer(AsyncWebsocketConsumer):
    """Answers each user message with a builtin turn's 10 frames, touching no database."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4403)
            return
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        self.owner_id = int(user.pk)
        await self.accept()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Frames go straight to their handler: no `close_old_connections` hop per frame."""
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)  # type: ignore[arg-type]
            return
        await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > 64 * 1024:
            return
        data = json.loads(text_data)
        text = data.get("message") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip():
            return
        for event in await self.events(text.strip()):
            await self.send(text_data=json.dumps(event))

    async def events(self, text: str) -> list[dict[str, Any]]:
        return turn_events(next(_runs), 1)


class PlainSQLConsumer(EchoConsumer):
    """The echo consumer plus the builtin turn's rows, written in one trip (the floor)."""

    async def events(self, text: str) -> list[dict[str, Any]]:
        return await plain_sql_turn(self.conversation_id, self.owner_id, text)
