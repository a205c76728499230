"""The part of a conversation a turn sends to its model, read in one bounded query.

Loading the whole history made every turn cost more than the last: at 100 turns a builtin
turn's p95 had doubled and the server's memory grew with each conversation (issue #15). A
turn reads only what its context budget can use: the newest `messages` rows, plus the
conversation's first user message, pinned, so the model keeps the request that started it.
Only the columns a model message needs are read, as tuples: no model instances, and no ORM
query building (it cost ten times the query).

The budget is a setting (`TASKWEB_CONTEXT_MESSAGES`, `TASKWEB_CONTEXT_TOKENS`), overridden
per backend profile by `TASKWEB_CONTEXT_BY_PROFILE` (no migration: keyed by profile name).
The token budget is applied by the agent loop (`agentcore.context.fit_history`) on the rows
read here; this module bounds the rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from agentcore.context import whole_tool_exchanges
from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from .models import Message

_TABLE = Message._meta.db_table
_LIVE = f"SELECT id FROM {_TABLE} WHERE conversation_id = %s AND abandoned = %s"
WINDOW_SQL = (
    f"SELECT id, role, content, tool_calls, tool_call_id, name FROM {_TABLE}"
    f" WHERE id IN ({_LIVE} ORDER BY id DESC LIMIT %s)"
    f" OR id = ({_LIVE} AND role = 'user' ORDER BY id LIMIT 1)"
    " ORDER BY id"
)
"""One statement on SQLite and PostgreSQL alike; both subqueries walk the (conversation, id)
index. Plain SQL rather than the ORM: building this query through the ORM cost ~10x the
query itself (2.8 ms against 0.29 ms per read, `python -m benchmarks.history_read`)."""


@dataclass(frozen=True, kw_only=True)
class ContextBudget:
    """How much of a conversation one model request may carry."""

    messages: int
    """Newest stored messages read per turn (the pinned first user message comes on top)."""
    tokens: int
    """Estimated tokens of history sent to the model (`Agent(context_budget=...)`)."""


def context_budget(route: str) -> ContextBudget:
    """The budget of a route: its first profile's override, else the global setting."""
    first = route.split(",", 1)[0].strip()
    override: dict[str, Any] = settings.TASKWEB_CONTEXT_BY_PROFILE.get(first, {})
    return ContextBudget(
        messages=int(override.get("messages", settings.TASKWEB_CONTEXT_MESSAGES)),
        tokens=int(override.get("tokens", settings.TASKWEB_CONTEXT_TOKENS)),
    )


def _core(row: tuple[Any, ...]) -> CoreMessage:
    _, role, content, tool_calls, tool_call_id, name = row
    if isinstance(tool_calls, str):  # JSON text from both backends' raw cursors
        tool_calls = json.loads(tool_calls)
    return CoreMessage(
        role=role,
        content=content,
        tool_calls=tuple(ToolCall.from_dict(c) for c in tool_calls or ()),
        tool_call_id=tool_call_id or None,
        name=name or None,
    )


def history_window(conversation_id: int, budget: ContextBudget) -> list[CoreMessage]:
    """The newest `budget.messages` messages and the pinned first user message, oldest first.

    One query, whatever the conversation's length. A window that starts inside a tool
    exchange loses that exchange whole (`whole_tool_exchanges`): an assistant message with
    tool calls and its tool results stay together or go together. Abandoned attempts are
    left out, as in the full history.
    """
    limit = max(1, budget.messages)
    with connection.cursor() as cursor:
        cursor.execute(WINDOW_SQL, [conversation_id, False, limit, conversation_id, False])
        rows = cursor.fetchall()
    if not rows:
        return []
    pinned: list[CoreMessage] = []
    window = rows
    if len(rows) > limit:
        # The pinned message is not among the newest: older rows were skipped between it and
        # the window, so the window alone is checked for exchanges it cut.
        pinned, window = [_core(rows[0])], rows[1:]
    return pinned + whole_tool_exchanges([_core(r) for r in window])
