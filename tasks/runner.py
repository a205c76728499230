"""Execute one agent run: persist every event, then publish it.

One executor serves the websocket consumer, the `agent_chat` command and the eval harness,
so all three persist the same audit trail. Runs live in tasks the process owns, not in a
consumer: a browser that disconnects does not stop its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from agentcore.backends.base import Backend, ModelSettings
from agentcore.errors import AgentCoreError
from agentcore.events import Event, EventFactory
from agentcore.loop import Agent
from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from . import services
from .agent_tools import build_task_tools
from .backend_routes import backend_for_conversation, default_route
from .models import AgentRun, Conversation
from .step_writer import step_writer

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
Approve = Callable[[ToolCall], Awaitable[bool]]


@dataclass
class ActiveRun:
    """A run in progress in this process: its task, and the approvals it waits for."""

    run_id: int
    conversation_id: int
    user_id: int
    task: asyncio.Task[str] | None = None
    approvals: dict[str, asyncio.Future[bool]] = field(default_factory=dict)

    async def wait_for_approval(self, call: ToolCall) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.approvals[call.id] = future
        try:
            return await future
        finally:
            self.approvals.pop(call.id, None)

    def decide(self, call_id: str, approved: bool) -> bool:
        future = self.approvals.get(call_id)
        if future is None or future.done():
            return False
        future.set_result(approved)
        return True


ACTIVE_RUNS: dict[int, ActiveRun] = {}
"""Runs executing in this process, by conversation id."""


def active_run_for(conversation_id: int) -> ActiveRun | None:
    return ACTIVE_RUNS.get(conversation_id)


def active_runs_for_user(user_id: int) -> int:
    return sum(
        1
        for r in ACTIVE_RUNS.values()
        if r.user_id == user_id and r.task is not None and not r.task.done()
    )


@dataclass
class _Prepared:
    run: AgentRun
    history: list[CoreMessage]
    user: AbstractBaseUser
    backend: Backend | Exception
    """The route's backend, or why there is none (the run reports it once it has started)."""


@database_sync_to_async
def _prepare(conversation: Conversation, text: str) -> _Prepared:
    """Everything a run needs from the database, in one trip to Django's sync thread.

    At 50 concurrent conversations that one thread is the bottleneck, and each separate trip
    also waits behind every other run's work.
    """
    message = services.user_message_create(conversation=conversation, text=text)
    route = conversation.route or default_route()
    run = services.run_create(conversation=conversation, user_message=message, route=route)
    backend: Backend | Exception
    try:
        backend = backend_for_conversation(conversation)
    except Exception as exc:  # raised inside the run, so that it ends failed with the reason
        backend = exc
    return _Prepared(run, services.history(conversation=conversation), conversation.owner, backend)


MAX_BATCH = 64


class EventWriter:
    """Persists then publishes a run's events, in order, beside the agent loop.

    The loop hands events over without waiting, so a model's stream is never held up by
    database writes; each event is still stored before any client hears of it, and tokens
    (not stored: the model_response step has the whole text) keep their place in the order.
    """

    def __init__(self, run: AgentRun, publish: Publish) -> None:
        self.run = run
        self.publish = publish
        self.queue: asyncio.Queue[tuple[Event, list[CoreMessage]] | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.pending = 0
        """Events handed over and not yet published."""

    async def send(self, event: Event, new_messages: list[CoreMessage]) -> None:
        """Hand an event over; a token with nothing ahead of it is published at once."""
        if self.task is not None and self.task.done():
            self.task.result()  # a failed writer stops the run with its error
        if event.type == "token" and not new_messages and self.pending == 0:
            # Nothing waits to be stored before it: no reason to queue behind the database.
            await self.publish(event)
            return
        self.pending += 1
        self.queue.put_nowait((event, new_messages))

    async def _drain(self) -> None:
        done = False
        while not done:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            if batch[-1] is None:
                batch.pop()
                done = True
            items = [item for item in batch if item is not None]
            if any(event.type != "token" for event, _ in items):
                await step_writer().store(self.run, items)
            for event, _ in items:
                await self.publish(event)
                self.pending -= 1

    async def __aenter__(self) -> EventWriter:
        self.task = asyncio.create_task(self._drain())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Also on cancel or error: what the loop produced is stored and sent before the
        # run is closed, so the closing events come after it.
        self.queue.put_nowait(None)
        assert self.task is not None
        await asyncio.shield(self.task)


@database_sync_to_async
def _close_after_exception(run: AgentRun, status: str, reason: str) -> None:
    services.unanswered_calls_close(run=run, reason=reason)


async def execute_run(
    conversation: Conversation,
    text: str,
    *,
    publish: Publish,
    approve: Approve | None = None,
    clock: Callable[[], datetime] | None = None,
    on_start: Callable[[AgentRun], None] | None = None,
) -> AgentRun:
    """Save the user message, run the agent, persist and publish each event; return the run.

    The run always ends in a final state: completed, failed, or cancelled (on task cancel),
    with every tool call answered in the saved history.
    """
    prepared = await _prepare(conversation, text)
    run, messages = prepared.run, prepared.history
    if on_start is not None:
        on_start(run)
    saved = len(messages)
    last_seq = 0
    status = "failed"
    try:
        if isinstance(prepared.backend, Exception):
            raise prepared.backend
        agent = Agent(
            backend=prepared.backend,
            tools=build_task_tools(prepared.user),
            max_steps=settings.TASKWEB_MAX_STEPS,
            clock=clock,
            max_tokens_per_run=settings.TASKWEB_MAX_TOKENS_PER_RUN,
            settings=ModelSettings(
                max_tokens=settings.TASKWEB_MAX_OUTPUT_TOKENS or None,
                max_answer_chars=settings.TASKWEB_MAX_ANSWER_CHARS or None,
            ),
        )
        async with EventWriter(run, publish) as writer:
            async for ev in agent.run(messages, run_id=str(run.pk), approve=approve):
                last_seq = ev.seq
                new, saved = messages[saved:], len(messages)
                await writer.send(ev, new)
                if ev.type == "run_finished":
                    status = str(ev.payload.get("status"))
    except asyncio.CancelledError:
        event = EventFactory(str(run.pk), start=last_seq)
        await _finish_abnormally(run, event, publish, "cancelled", "cancelled by the user")
        raise
    except AgentCoreError as exc:
        event = EventFactory(str(run.pk), start=last_seq)
        await _finish_abnormally(run, event, publish, "failed", str(exc))
    except Exception as exc:
        log.exception("run %s crashed", run.pk)
        event = EventFactory(str(run.pk), start=last_seq)
        await _finish_abnormally(run, event, publish, "failed", f"internal error: {exc}")
    else:
        run.status = status
    return run


async def _finish_abnormally(
    run: AgentRun, event: EventFactory, publish: Publish, status: str, reason: str
) -> None:
    """Close a run that did not end by itself: answer open calls, record, tell the clients."""
    with contextlib.suppress(Exception):
        await _close_after_exception(run, status, reason)
    for ev in (
        event("error", kind=status, message=reason),
        event("run_finished", status=status),
    ):
        with contextlib.suppress(Exception):
            await step_writer().store(run, [(ev, [])])
        with contextlib.suppress(Exception):
            await publish(ev)
    run.status = status
