"""Writes, HackSoft-style: each function does one change and returns what it made."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from agentcore.events import FINAL_STATUSES, Event, Failed, FellBack, RunFinished
from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from .models import AgentRun, Conversation, Message, RunStatus
from .relay import PROCESS_ID
from .run_signals import run_closed
from .steps import decimal, storable
from .titles import short_title

__all__ = ["storable"]  # re-exported: the tools clean their input with it

TERMINAL = FINAL_STATUSES


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


def messages_append(*, run: AgentRun, messages: Iterable[CoreMessage]) -> list[Message]:
    rows = [
        Message(
            conversation_id=run.conversation_id,
            run=run,
            role=m.role,
            content=storable(m.content),
            tool_calls=storable([c.to_dict() for c in m.tool_calls]),
            tool_call_id=storable(m.tool_call_id or ""),
            name=storable(m.name or ""),
        )
        for m in messages
    ]
    return Message.objects.bulk_create(rows)


def step_effects(*, run: AgentRun, event: Event) -> None:
    """What an event changes on its run besides its step: the close, the error, the text."""
    p = event.payload
    if isinstance(p, RunFinished):
        run_close(run=run, totals=p)
    elif isinstance(p, Failed):
        AgentRun.objects.filter(pk=run.pk).update(error=str(storable(p.message))[:2000])
    elif isinstance(p, FellBack) and p.notice == "abandon" and p.abandoned_text:
        abandoned_text_record(run=run, text=p.abandoned_text)


def run_close(*, run: AgentRun, totals: RunFinished, error: str = "") -> None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": totals.status if totals.status in TERMINAL else RunStatus.FAILED,
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
    AgentRun.objects.filter(pk=run.pk).update(**fields)
    for key, value in fields.items():
        setattr(run, key, value)
    run_closed.send(sender=AgentRun, run=run)  # e.g. the OpenTelemetry export, after commit


@transaction.atomic
def unanswered_calls_close(*, run: AgentRun, reason: str) -> list[Message]:
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


def abandoned_text_record(*, run: AgentRun, text: str) -> Message:
    return Message.objects.create(
        conversation_id=run.conversation_id,
        run=run,
        role="assistant",
        content=storable(text),
        abandoned=True,
    )
