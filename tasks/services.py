"""Writes, HackSoft-style: each function does one change and returns what it made."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from agentcore.events import Event
from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from .models import AgentRun, Conversation, Message, RunStatus, RunStep
from .titles import short_title

TERMINAL = {"completed", "failed", "interrupted", "cancelled"}


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


WORKER = f"{socket.gethostname()}:{os.getpid()}"
"""Which process runs a run: a restarted process can tell its dead runs from live ones."""


def run_create(*, conversation: Conversation, user_message: Message, route: str) -> AgentRun:
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


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except ArithmeticError:
        return Decimal(0)


def step_row(*, run: AgentRun, event: Event) -> RunStep:
    """The unsaved audit-trail step for an event (`tasks.step_writer` inserts them in bulk)."""
    p = storable(event.payload)
    return RunStep(
        run=run,
        seq=event.seq,
        type=event.type,
        ts=dt.datetime.fromtimestamp(event.ts, tz=dt.timezone.utc),
        backend=str(p.get("backend") if isinstance(p.get("backend"), str) else "")[:200],
        model=str(p.get("model") or "")[:200],
        duration_ms=p.get("duration_ms"),
        ttft_ms=p.get("ttft_ms"),
        input_tokens=int(p.get("input_tokens") or 0) if event.type == "model_response" else 0,
        output_tokens=int(p.get("output_tokens") or 0) if event.type == "model_response" else 0,
        cost=_decimal(p.get("cost")) if event.type == "model_response" else Decimal(0),
        payload=p,
    )


def step_effects(*, run: AgentRun, event: Event) -> None:
    """What an event changes on its run besides its step: the close, the error."""
    p = event.payload
    if event.type == "run_finished":
        run_close(run=run, status=p.get("status", "failed"), totals=storable(p))
    elif event.type == "error":
        AgentRun.objects.filter(pk=run.pk).update(error=str(storable(p.get("message", "")))[:2000])


def run_close(*, run: AgentRun, status: str, totals: dict[str, Any], error: str = "") -> None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": status if status in TERMINAL else RunStatus.FAILED,
        "finished_at": now,
        "duration_ms": totals.get("duration_ms") or (now - run.started_at).total_seconds() * 1000,
        "input_tokens": int(totals.get("input_tokens") or 0),
        "output_tokens": int(totals.get("output_tokens") or 0),
        "cost": _decimal(totals.get("cost")),
        "model_calls": int(totals.get("model_calls") or 0),
        "tool_calls": int(totals.get("tool_calls") or 0),
        "tool_errors": int(totals.get("tool_errors") or 0),
        "answered_by": str(totals.get("answered_by") or "")[:200],
    }
    if error:
        fields["error"] = error[:2000]
    AgentRun.objects.filter(pk=run.pk).update(**fields)
    for key, value in fields.items():
        setattr(run, key, value)


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


def _worker_gone(worker: str, *, any_host: bool) -> bool:
    """True when the process that ran a run is dead (on this host), or on any host if told."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return any_host
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def runs_interrupt_stale(*, any_host: bool = False) -> int:
    """Close the runs whose process died: called when a server starts, before it serves.

    Runs of live processes on this host are left alone, so one restarted daphne never
    interrupts its siblings; runs of other hosts only with `any_host`. Each closed run gets
    its open tool calls answered and a visible note in its conversation.
    """
    count = 0
    for run in AgentRun.objects.filter(status=RunStatus.RUNNING):
        if not _worker_gone(run.worker, any_host=any_host):
            continue
        unanswered_calls_close(run=run, reason="the server stopped during this run")
        Message.objects.create(
            conversation_id=run.conversation_id,
            run=run,
            role="assistant",
            content="This run was interrupted because the server stopped. Please send it again.",
        )
        run_close(run=run, status=RunStatus.INTERRUPTED, totals={}, error="server stopped")
        count += 1
    return count
