"""The run service: the one owner of runs — start, approve, cancel, close — for every tab.

A run belongs to the process that started it (its `worker`); the database knows which, so
any process can answer for it: a second run in the same conversation is refused by the
database whichever process tries, a cancel or an approval from a tab on another process is
forwarded to the owner over the channel layer, and the heartbeat sweep closes the runs of a
process that stopped. Runs outlive sockets: a browser that disconnects does not stop its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from django.conf import settings
from django.utils import timezone

from agentcore.events import Event, RunFinished
from agentcore.messages import ToolCall

from . import started_runs, workers
from .models import AgentRun, Conversation, RunStatus, RunStep
from .relay import RELAY
from .runner import RunControl, RunRefused, StartedRun, drive_run, save_message_and_run
from .services import WORKER
from .shared_limits import SharedRateLimiter

log = logging.getLogger(__name__)


def group_name(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


@dataclass
class ActiveRun:
    """A run executing in this process: its control, and the approvals it waits for."""

    run_id: int
    conversation_id: int
    control: RunControl = field(default_factory=RunControl)
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


def _rate_key(conversation: Conversation) -> str:
    """The owner's rate-limit key: the id alone repeats in a recreated database, so with the
    moment the account was made (the owner comes with the socket's conversation)."""
    return f"{conversation.owner_id}:{conversation.owner.date_joined.timestamp():.6f}"


@database_sync_to_async
def _running_run(conversation_id: int) -> AgentRun | None:
    return AgentRun.objects.filter(
        conversation_id=conversation_id, status=RunStatus.RUNNING
    ).first()


def pending_approvals(run: AgentRun) -> list[RunStep]:
    """The approval_required steps of a running run that have no decision yet (sync)."""
    if run.status != RunStatus.RUNNING:
        return []
    steps = list(
        RunStep.objects.filter(run=run, type__in=["approval_required", "approval_decision"])
    )
    from .steps import event_from_step

    asked: dict[str, RunStep] = {}
    for step in steps:
        call_id = getattr(event_from_step(step).payload, "call_id", "")
        if step.type == "approval_required":
            asked[call_id] = step
        else:
            asked.pop(call_id, None)
    return list(asked.values())


@database_sync_to_async
def _approval_pending(conversation_id: int, call_id: str) -> str | None:
    """The worker of the running run waiting for `call_id`, or None."""
    run = AgentRun.objects.filter(conversation_id=conversation_id, status=RunStatus.RUNNING).first()
    if run is None:
        return None
    from .steps import event_from_step

    for step in pending_approvals(run):
        if getattr(event_from_step(step).payload, "call_id", None) == call_id:
            return run.worker
    return None


class RunService:
    """This process's runs (per event loop), and the way to every other process's runs."""

    def __init__(self) -> None:
        self.active: dict[int, ActiveRun] = {}
        """Runs executing here, by conversation id."""
        self.rate = SharedRateLimiter(settings.TASKWEB_RATE_LIMIT, settings.REDIS_URL)
        self.layer: BaseChannelLayer | None = None
        self.control_channel = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False

    # -- life ---------------------------------------------------------------------------
    async def ensure_started(self, layer: BaseChannelLayer | None) -> None:
        """Beat once and sweep now (so a restarted server closes its dead runs before it
        serves), then keep beating in the background."""
        if self._started:
            return
        self._started = True
        self.layer = layer if not isinstance(layer, InMemoryChannelLayer) else None
        if self.layer is not None:
            with contextlib.suppress(Exception):
                self.control_channel = await self.layer.new_channel()
                self._spawn(self._control_loop())
        await self._tick()
        if settings.TASKWEB_HEARTBEAT_S > 0:
            self._spawn(self._heartbeat())

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(settings.TASKWEB_HEARTBEAT_S)
            try:
                await self._tick()
            except Exception:
                log.warning("heartbeat failed; trying again", exc_info=True)

    async def _tick(self) -> None:
        await database_sync_to_async(workers.beat)(WORKER, self.control_channel)
        closed = await database_sync_to_async(self._sweep)()
        for run, events in closed:
            for event in events:
                await self.publish(run.conversation_id, event)

    def _sweep(self) -> list[tuple[AgentRun, list[Event]]]:
        """Close runs of gone processes, and this process's runs it no longer drives."""
        closed = workers.runs_interrupt_stale(me=WORKER)
        mine = {a.run_id for a in self.active.values()}
        grace = timezone.now() - timedelta(seconds=max(settings.TASKWEB_WORKER_STALE_S, 10))
        lost = AgentRun.objects.filter(
            status=RunStatus.RUNNING, worker=WORKER, started_at__lt=grace
        ).exclude(pk__in=mine)
        for run in lost:
            events = workers.run_interrupt(run, reason="its server lost track of it")
            if events:
                closed.append((run, events))
        return closed

    # -- events -------------------------------------------------------------------------
    async def publish(self, conversation_id: int, event: Event) -> None:
        if isinstance(event.payload, RunFinished):
            # Free the conversation before anyone hears the run ended: a client that answers
            # run_finished with its next message must not be told "busy".
            active = self.active.get(conversation_id)
            if active is not None and str(active.run_id) == event.run_id:
                del self.active[conversation_id]
        await RELAY.publish(self.layer, conversation_id, group_name(conversation_id), event)

    # -- start --------------------------------------------------------------------------
    async def start(self, conversation: Conversation, text: str) -> AgentRun:
        """Save the message and start its run here; `RunRefused` when it may not start."""
        if not Conversation.owner.is_cached(conversation):  # sockets bring it along
            await database_sync_to_async(lambda: conversation.owner)()
        if not await self.rate.hit(_rate_key(conversation)):
            raise RunRefused("rate_limited", "Too many messages; wait a moment and try again.")
        if conversation.pk in self.active:
            raise RunRefused(
                "run_in_progress",
                "A run is still in progress in this conversation; wait for it or cancel it.",
            )
        started = await save_message_and_run(
            conversation, text, max_running=settings.TASKWEB_MAX_CONCURRENT_RUNS
        )
        started_runs.remember(started.run)  # its fragments render from this, not the database
        active = ActiveRun(run_id=started.run.pk, conversation_id=conversation.pk)
        self.active[conversation.pk] = active
        active.control.task = self._spawn(self._drive(active, started))
        return started.run

    async def _drive(self, active: ActiveRun, started: StartedRun) -> AgentRun:
        conversation_id = active.conversation_id

        async def publish(event: Event) -> None:
            await self.publish(conversation_id, event)

        async def warn(text: str) -> None:
            RELAY.notice(conversation_id, "run_stopped", text)

        try:
            return await drive_run(
                started,
                publish=publish,
                approve=active.wait_for_approval,
                control=active.control,
                warn=warn,
            )
        except asyncio.CancelledError:
            return started.run
        finally:
            if self.active.get(conversation_id) is active:
                del self.active[conversation_id]

    # -- control ------------------------------------------------------------------------
    async def approve(self, conversation_id: int, call_id: str, approved: bool) -> str | None:
        """Decide a pending approval from any tab; an error code, or None when delivered."""
        active = self.active.get(conversation_id)
        if active is not None and active.decide(call_id, approved):
            return None
        worker = await _approval_pending(conversation_id, call_id)
        if worker is None or worker == WORKER:
            return "no_such_approval"
        message = {"action": "approve", "call_id": call_id, "approved": approved}
        return await self._forward(worker, conversation_id, message)

    async def cancel(self, conversation_id: int) -> str | None:
        """Cancel the conversation's run from any tab; idempotent while it winds down."""
        active = self.active.get(conversation_id)
        if active is not None and active.control.cancel():
            return None
        run = await _running_run(conversation_id)
        if run is None or run.worker == WORKER:
            return "nothing_running"
        return await self._forward(run.worker, conversation_id, {"action": "cancel"})

    async def _forward(
        self, worker: str, conversation_id: int, message: dict[str, Any]
    ) -> str | None:
        channel = await database_sync_to_async(workers.control_channel_of)(worker)
        if self.layer is None or not channel:
            return "owner_unreachable"
        try:
            await self.layer.send(
                channel, {"type": "run.control", "conversation": conversation_id, **message}
            )
        except Exception:
            log.warning("could not reach the process of a run (%s)", worker, exc_info=True)
            return "owner_unreachable"
        return None

    async def _control_loop(self) -> None:
        assert self.layer is not None
        while True:
            try:
                message = await self.layer.receive(self.control_channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1)
                continue
            self.apply(message)

    def apply(self, message: dict[str, Any]) -> None:
        """A control message forwarded by another process for one of this process's runs."""
        conversation_id = message.get("conversation")
        active = self.active.get(conversation_id) if isinstance(conversation_id, int) else None
        if active is None:
            return
        if message.get("action") == "cancel":
            active.control.cancel()
        elif message.get("action") == "approve":
            active.decide(str(message.get("call_id")), bool(message.get("approved")))


_services: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RunService] = (
    weakref.WeakKeyDictionary()
)


def run_service() -> RunService:
    """The service of the running event loop (tests run several loops, one after another)."""
    loop = asyncio.get_running_loop()
    service = _services.get(loop)
    if service is None:
        service = _services[loop] = RunService()
    return service
