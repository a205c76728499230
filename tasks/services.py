"""Writes, HackSoft-style: each function does one change and returns what it made."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from agentcore.events import RunFinished
from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from . import rows
from .fanout import PROCESS_ID
from .models import AgentRun, Conversation, Message
from .steps import storable
from .titles import short_title

__all__ = ["storable"]  # re-exported: the tools clean their input with it


def conversation_create(
    *, user: AbstractBaseUser, title: str = "", route: str = "", local_only: bool = False
) -> Conversation:
    return Conversation.objects.create(
        owner_id=user.pk,
        title=title or "New conversation",
        route=route,
        local_only=local_only,
    )


def user_message_create(*, conversation: Conversation, text: str) -> Message:
    """Save the user's words first, before anything can fail."""
    text = storable(text)
    message = Message.objects.create(conversation=conversation, role="user", content=text)
    if conversation.title == "New conversation":
        conversation.title = short_title(text)
    conversation.save(update_fields=["title", "updated_at"])
    return message


WORKER = PROCESS_ID
"""Which process runs a run (host:pid:tag; pid alone repeats across hosts and restarts)."""


def run_create(*, conversation: Conversation, user_message: Message, route: str) -> AgentRun:
    """A running run; IntegrityError when the conversation already has one (any process)."""
    run = AgentRun.objects.create(
        conversation=conversation, user_message=user_message, route=route, worker=WORKER
    )
    Message.objects.filter(pk=user_message.pk).update(run=run)
    return run


def history(*, conversation: Conversation) -> list[CoreMessage]:
    """The conversation as agentcore messages, abandoned attempts left out."""
    rows = conversation.messages.filter(abandoned=False).order_by("id")
    return [message_to_core(m) for m in rows]


def message_to_core(message: Message) -> CoreMessage:
    return CoreMessage(
        role=message.role,  # type: ignore[arg-type]
        content=message.content,
        tool_calls=tuple(ToolCall.from_dict(c) for c in message.tool_calls or ()),
        tool_call_id=message.tool_call_id or None,
        name=message.name or None,
    )


def messages_append(*, run: AgentRun, messages: Iterable[CoreMessage]) -> list[int]:
    """The run's new messages, in order, in one INSERT; their ids."""
    values = [rows.message_values(run.conversation_id, run.pk, m) for m in messages]
    with connection.cursor() as cursor:
        return rows.insert_messages(cursor, values)


def run_close(*, run: AgentRun, totals: RunFinished, error: str = "") -> None:
    """Give a run its final row (and tell `run_closed`'s listeners)."""
    with connection.cursor() as cursor:
        rows.close_run(cursor, run, totals, error)


@transaction.atomic
def unanswered_calls_close(*, run: AgentRun, reason: str) -> list[int]:
    """Answer every tool call of the run that has no result, so the history stays valid."""
    asked: dict[str, str] = {}
    answered: set[str] = set()
    for message in run.messages.order_by("id"):
        for call in message.tool_calls or ():
            asked[call["id"]] = call["name"]
        if message.role == "tool":
            answered.add(message.tool_call_id)
    missing = [
        CoreMessage(role="tool", content=f"Error: {reason}", tool_call_id=cid, name=name)
        for cid, name in asked.items()
        if cid not in answered
    ]
    return messages_append(run=run, messages=missing) if missing else []


def abandoned_text_record(*, run: AgentRun, text: str) -> int:
    """Keep the text an attempt streamed before it failed (shown, never sent to a model)."""
    message = CoreMessage(role="assistant", content=text)
    values = rows.message_values(run.conversation_id, run.pk, message, abandoned=True)
    with connection.cursor() as cursor:
        (message_id,) = rows.insert_messages(cursor, [values])
    return message_id
