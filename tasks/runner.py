"""Execute one agent run: store every event, then announce it.

One executor serves the run service (the websocket), the `agent_chat` command and the eval
harness, so all three persist the same audit trail. Its promises:

- the user's message (with its run) is committed before anything else happens;
- an event reaches `publish` only after its step is committed, carrying that step's id;
- whatever goes wrong, the run ends in a final state with an error step the client sees;
- a cancel that arrives while a tool runs waits for the tool and records its real result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import Error as DatabaseFailure
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from agentcore.backends.base import Backend, ModelSettings
from agentcore.errors import AgentCoreError
from agentcore.events import ApprovalDecided, Event, EventFactory, Failed, RunFinished, RunStatus
from agentcore.loop import Agent, Approval
from agentcore.messages import Message as CoreMessage
from agentcore.messages import ToolCall

from . import rows, services
from .agent_tools import build_task_tools
from .backend_routes import backend_for_conversation, default_route
from .history import context_budget, history_window
from .models import AgentRun, Conversation, Message, RunStep
from .prompts import SYSTEM_PROMPT
from .step_writer import step_writer
from .steps import storable
from .titles import short_title

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
Approve = Callable[[ToolCall], Awaitable[Approval]]
Warn = Callable[[str], Awaitable[None]]


class RunRefused(Exception):
    """The run was not started (nothing was saved); `code` says why, for the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RunControl:
    """Cancel for a run in progress, safe to call any number of times.

    A cancel while a tool runs is held until the tool's result is stored: cancelling the
    task there would record "cancelled" for a call whose effect happened.
    """

    def __init__(self) -> None:
        self.task: asyncio.Task[AgentRun] | None = None
        self.cancel_requested = False
        self.in_tool = False

    def cancel(self) -> bool:
        """Ask the run to stop; False when it is not running (any more)."""
        if self.task is None or self.task.done():
            return False
        if not self.cancel_requested:
            self.cancel_requested = True
            if not self.in_tool:
                self.task.cancel()
        return True

    def observe(self, event: Event) -> None:
        """Track whether the loop is about to run a tool (the event before one starts)."""
        p = event.payload
        self.in_tool = event.type == "tool_call" or (
            isinstance(p, ApprovalDecided) and p.decision == "approve"
        )

    def held_cancel_due(self) -> bool:
        return self.cancel_requested and not self.in_tool


FIRST_TRIP_TRIES = 3


@dataclass
class _Loaded:
    history: list[CoreMessage]
    user: AbstractBaseUser
    backend: Backend


@dataclass
class StartedRun:
    """A saved run and what it needs to go on, read in the trip that saved it: its history,
    owner and backend — or the error that reading them met, which the run reports as its
    failure (visibly: the run is saved, so it must end in a final state)."""

    run: AgentRun
    loaded: _Loaded | Exception


def _load(run: AgentRun, conversation: Conversation) -> _Loaded:
    """What the run needs besides its message: history, owner, backend (may raise)."""
    backend = backend_for_conversation(conversation)  # refuses a route its owner may not use
    history = history_window(conversation.pk, context_budget(run.route))
    return _Loaded(history, conversation.owner, backend)


@database_sync_to_async
def _first_trip(conversation: Conversation, text: str, max_running: int | None) -> StartedRun:
    """The user's message and its run in one transaction (both or neither), then in the same
    trip what the run needs to go on.

    The database refuses a second running run of the conversation (any process): then
    nothing is saved, so no message lands between another run's tool call and its result.
    With `max_running`, a user who already has that many runs going is refused too.
    """
    text, now = storable(text), timezone.now()
    try:
        with rows.atomic_unless_one_statement(), connection.cursor() as cursor:
            started = rows.start_rows(
                cursor, conversation, text,
                title=short_title(text), default_route=default_route(), worker=services.WORKER,
                now=now, max_running=max_running,
            )  # fmt: skip
    except IntegrityError:
        raise RunRefused(
            "run_in_progress",
            "A run is still in progress in this conversation; wait for it or cancel it.",
        ) from None
    if started is None:
        raise RunRefused("too_many_runs", "You already have the maximum number of runs going.")
    message_id, run_id, current = started
    conversation.title = current["title"]
    conversation.route = current["route"]
    conversation.local_only = current["local_only"]
    run = AgentRun(
        pk=run_id,
        conversation=conversation,
        user_message_id=message_id,
        route=current["route"] or default_route(),
        worker=services.WORKER,
        started_at=now,
    )
    run._state.adding, run._state.db = False, "default"
    message = Message(
        pk=message_id, conversation=conversation, run=run, role="user", content=text,
        created_at=now,
    )  # fmt: skip
    message._state.adding, message._state.db = False, "default"
    run.user_message = message  # the rows as saved: the page's fragments need no read back
    try:
        loaded: _Loaded | Exception = _load(run, conversation)
    except Exception as exc:  # the run is saved: it reports this as its failure
        loaded = exc
    return StartedRun(run, loaded)


async def save_message_and_run(
    conversation: Conversation, text: str, *, max_running: int | None = None
) -> StartedRun:
    """`_first_trip`, tried again while the database is locked or unreachable for a moment."""
    for attempt in range(1, FIRST_TRIP_TRIES + 1):
        try:
            return await _first_trip(conversation, text, max_running)
        except DatabaseFailure as exc:  # locked, or the connection was lost: try again
            if attempt == FIRST_TRIP_TRIES:
                log.warning("could not save a user message: %s", exc)
                raise RunRefused(
                    "not_saved",
                    "Your message could not be saved (the database is unavailable); "
                    "nothing was sent. Try again in a moment.",
                ) from exc
            await asyncio.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


MAX_BATCH = 64


class EventWriter:
    """Stores then announces a run's events, in order, beside the agent loop.

    The loop hands events over without waiting, so a model's stream is never held up by
    database writes; each event is still stored before any client hears of it, and tokens
    (not stored: the model_response step has the whole text) keep their place in the order,
    carrying the id of the last step stored before them as the client's cursor.
    """

    def __init__(self, run: AgentRun, publish: Publish, *, last_step: int | None = None) -> None:
        self.run = run
        self.publish = publish
        self.queue: asyncio.Queue[tuple[Event, list[CoreMessage]] | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.pending = 0
        """Events handed over and not yet announced."""
        self.last_step = last_step

    async def send(self, event: Event, new_messages: list[CoreMessage]) -> None:
        """Hand an event over; a token with nothing ahead of it is announced at once."""
        if self.task is not None and self.task.done():
            self.task.result()  # a failed writer stops the run with its error
        if event.type == "token" and not new_messages and self.pending == 0:
            await self.publish(replace(event, step_id=self.last_step))
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
            ids: list[int | None] = [None] * len(items)
            if any(event.type != "token" or new for event, new in items):
                ids = await step_writer().store(self.run, items)
            for (event, _), step_id in zip(items, ids, strict=True):
                self.last_step = step_id if step_id is not None else self.last_step
                await self.publish(replace(event, step_id=self.last_step))
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


async def execute_run(
    conversation: Conversation,
    text: str,
    *,
    publish: Publish,
    approve: Approve | None = None,
    clock: Callable[[], datetime] | None = None,
    on_start: Callable[[AgentRun], None] | None = None,
    control: RunControl | None = None,
    warn: Warn | None = None,
) -> AgentRun:
    """Save the user message, run the agent, store and announce each event; return the run.

    Raises `RunRefused` when nothing was saved. Otherwise the run always ends in a final
    state — completed, failed, or cancelled — with every tool call answered in its history.
    """
    started = await save_message_and_run(conversation, text)
    return await drive_run(
        started,
        publish=publish,
        approve=approve,
        clock=clock,
        on_start=on_start,
        control=control,
        warn=warn,
    )


async def drive_run(
    started: StartedRun,
    *,
    publish: Publish,
    approve: Approve | None = None,
    clock: Callable[[], datetime] | None = None,
    on_start: Callable[[AgentRun], None] | None = None,
    control: RunControl | None = None,
    warn: Warn | None = None,
) -> AgentRun:
    """Run a saved run to its end (see `execute_run`)."""
    run = started.run
    control = control or RunControl()
    if on_start is not None:
        on_start(run)
    writer = EventWriter(run, publish)
    last_seq = 0
    try:
        loaded = started.loaded
        if isinstance(loaded, Exception):
            raise loaded
        messages, saved = loaded.history, len(loaded.history)
        agent = Agent(
            backend=loaded.backend,
            tools=build_task_tools(loaded.user),
            max_steps=settings.TASKWEB_MAX_STEPS,
            system_prompt=SYSTEM_PROMPT,
            clock=clock,
            max_tokens_per_run=settings.TASKWEB_MAX_TOKENS_PER_RUN,
            max_calls_per_answer=settings.TASKWEB_MAX_CALLS_PER_ANSWER,
            max_calls_per_run=settings.TASKWEB_MAX_CALLS_PER_RUN,
            approval_timeout_s=settings.TASKWEB_APPROVAL_TIMEOUT_S,
            context_budget=context_budget(run.route).tokens,
            settings=ModelSettings(
                max_tokens=settings.TASKWEB_MAX_OUTPUT_TOKENS or None,
                max_answer_chars=settings.TASKWEB_MAX_ANSWER_CHARS or None,
            ),
        )
        async with (
            writer,
            aclosing(agent.run(messages, run_id=str(run.pk), approve=approve)) as evs,
        ):
            async for ev in evs:
                last_seq = ev.seq
                new, saved = messages[saved:], len(messages)
                await writer.send(ev, new)
                control.observe(ev)
                if control.held_cancel_due():
                    raise asyncio.CancelledError
                if isinstance(ev.payload, RunFinished):
                    run.status = ev.payload.status
    except asyncio.CancelledError:
        await _finish_abnormally(run, writer, last_seq, publish, warn, "cancelled", "cancelled")
        raise
    except AgentCoreError as exc:
        await _finish_abnormally(run, writer, last_seq, publish, warn, "failed", str(exc))
    except Exception as exc:
        log.exception("run %s failed", run.pk)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        await _finish_abnormally(run, writer, last_seq, publish, warn, "failed", reason)
    return run


CLOSE_TRIES = 8


@database_sync_to_async
def _store_close(run: AgentRun, status: RunStatus, reason: str, after_seq: int) -> list[Event]:
    """Answer open calls, then an error and a run_finished step after every stored one."""
    with transaction.atomic():
        services.unanswered_calls_close(run=run, reason=reason)
        stored = RunStep.objects.filter(run=run).aggregate(m=Max("seq"))["m"] or 0
        event = EventFactory(str(run.pk), start=max(stored, after_seq))
        message = "cancelled by the user" if status == "cancelled" else reason
        events = [
            event(Failed(kind=status, message=message)),
            event(RunFinished(status=status)),
        ]
        with connection.cursor() as cursor:
            ids = rows.store_events(cursor, run, [(e, []) for e in events])
    return [replace(e, step_id=step_id) for e, step_id in zip(events, ids, strict=True)]


async def _finish_abnormally(
    run: AgentRun,
    writer: EventWriter,
    last_seq: int,
    publish: Publish,
    warn: Warn | None,
    status: RunStatus,
    reason: str,
) -> None:
    """Close a run that did not end by itself, visibly: stored first, then announced.

    While the database refuses (locked, connection lost), the close is tried again with a
    backoff; the clients are warned at once that the run stopped.
    """
    run.status = status
    if warn is not None:
        with contextlib.suppress(Exception):
            await warn(f"The run stopped ({reason}); recording it.")
    delay = 0.25
    for attempt in range(1, CLOSE_TRIES + 1):
        try:
            events = await asyncio.shield(_store_close(run, status, reason, last_seq))
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("run %s: closing it failed (try %d): %s", run.pk, attempt, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    else:
        log.error("run %s left running: the heartbeat sweep will close it", run.pk)
        return
    for ev in events:
        with contextlib.suppress(Exception):
            await publish(ev)
