"""Run events to the other processes: only while one listens to the conversation, batched.

The channel layer's copy of every event cost ~15% of the server's CPU at 50 chats with no
other process listening, one Redis PUBLISH per event. So a process publishes a
conversation's events only while another process says it listens (`Fanout`, from the
presence announcements every process makes), and sends the events that are ready together
as one message. Skipping is safe because a listener can always tell what it missed and read
it from the database (see `missed`):

- every stored event travels with `prev`, the step stored before it in the same run by the
  same process (None for a run's first event here), so a listener that lacks `prev` knows
  it missed something;
- a process that learns of a new listener late sends it `through`, the last step it
  stored (published or not), so a listener whose catch-up ended earlier knows it too;
- a listener that misses anything re-reads the steps after the last one it has, in order,
  before what comes next (the same read as a reconnecting page's catch-up).

Tokens are never repaired: they are not stored, and the stored model_response has the text.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channels.layers import BaseChannelLayer

from agentcore.compat import timeout
from agentcore.events import Event, Token

if TYPE_CHECKING:
    from .relay import Relay

log = logging.getLogger(__name__)

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""Tags layer messages from this process (pid alone repeats across hosts and restarts)."""
LAYER_TIMEOUT_S = 2.0
"""A send to the channel layer that takes longer is given up (the run goes on)."""
PRESENCE_GROUP = "taskweb-presence"
"""The group every process listens on for who listens to which conversation."""
PRESENCE_REFRESH_S = 10.0
"""How often a process repeats the conversations it listens to (a lost or late
announcement costs a remote tab at most this long a wait, never a step)."""
PRESENCE_TTL_S = 3 * PRESENCE_REFRESH_S
"""A listener not heard of for this long is taken to be gone."""
RECORD_S = 600.0
"""How long a process remembers the last step of a conversation it handled, to tell a
listener it learns of late (an announcement takes milliseconds, not minutes)."""
MAX_BATCH = 64
"""Events in one layer message at most."""
MAX_PENDING = 1000
"""Events waiting for the layer per conversation at most: past it, the waiting events are
dropped and the listeners told to read them from the database instead."""


def stored(event: Event) -> bool:
    """Whether the event is a stored step (a token only carries the step before it)."""
    return event.step_id is not None and not isinstance(event.payload, Token)


def missed(
    tail: int, events: Sequence[Event], prevs: Sequence[int | None], through: int | None
) -> bool:
    """Whether a socket that has every stored step up to `tail` lacks one before or among
    these events from another process (so it must read the steps after `tail` first)."""
    if through is not None and through > tail:
        return True
    for event, prev in zip(events, prevs, strict=True):
        if event.step_id is None:
            continue
        if not stored(event):
            if event.step_id > tail:
                return True  # a token after a step this socket never got
            continue
        if prev is None or prev > tail:
            return True  # a run's first step here, or one after a step never got
        tail = max(tail, event.step_id)
    return False


@dataclass
class _Pending:
    """A conversation's layer message in the making."""

    group: str
    events: list[dict[str, Any]] = field(default_factory=list)
    prevs: list[int | None] = field(default_factory=list)
    through: int | None = None


class Fanout:
    """This event loop's link to the other processes over one cross-process layer.

    It knows which conversations other processes listen to (their presence announcements),
    publishes only those conversations' events, batched, and announces the conversations
    this process's sockets listen to.
    """

    def __init__(self, relay: Relay, layer: BaseChannelLayer) -> None:
        self.relay = relay
        self.layer = layer
        self.listeners: dict[int, dict[str, float]] = {}
        """Conversation id -> other process -> when its listening expires (monotonic)."""
        self.last: dict[int, tuple[str, int, str, float]] = {}
        """Conversation id -> (run id, step id, group, when) of the last step handled here."""
        self.pending: dict[int, _Pending] = {}
        self.presence_ops: list[list[Any]] = []
        self.presence_query = False
        self._flushing: set[int | str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ready: asyncio.Task[None] | None = None

    # -- life ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for presence, ask the others who listens where, say where we listen."""
        if self._ready is None:
            self._ready = self._spawn(self._start())
        await asyncio.shield(self._ready)

    def start_soon(self) -> None:
        if self._ready is None:
            self._ready = self._spawn(self._start())

    async def _start(self) -> None:
        try:
            channel = await self.layer.new_channel()
            await self.layer.group_add(PRESENCE_GROUP, channel)
        except Exception as exc:  # the layer retries its subscriptions by itself
            log.warning("could not listen for presence: %s", exc)
            return
        self._spawn(self._listen(channel))
        self._spawn(self._refresh())
        self.presence_query = True
        self._announce_all()

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- run events ---------------------------------------------------------------------
    def listened(self, conversation_id: int) -> bool:
        """Whether another process listens to the conversation now."""
        others = self.listeners.get(conversation_id)
        if not others:
            return False
        now = time.monotonic()
        for origin in [o for o, until in others.items() if until <= now]:
            del others[origin]
        if not others:
            del self.listeners[conversation_id]
            return False
        return True

    def publish(self, conversation_id: int, group: str, event: Event) -> None:
        """Queue the event for other processes if any listens; remember it either way."""
        prev: int | None = None
        if stored(event):
            last = self.last.get(conversation_id)
            prev = last[1] if last is not None and last[0] == event.run_id else None
            assert event.step_id is not None
            self.last[conversation_id] = (event.run_id, event.step_id, group, time.monotonic())
        if not self.listened(conversation_id):
            return
        pending = self.pending.setdefault(conversation_id, _Pending(group))
        if len(pending.events) >= MAX_PENDING:
            # The layer is far behind: the listeners read these from the database instead.
            pending.events.clear()
            pending.prevs.clear()
            last = self.last.get(conversation_id)
            pending.through = last[1] if last is not None else pending.through
        else:
            pending.events.append(event.to_dict())
            pending.prevs.append(prev)
        self._flush_soon(conversation_id)

    def _sync(self, conversation_id: int) -> None:
        """Tell a listener learned of late the last step handled here (it may lack it)."""
        last = self.last.get(conversation_id)
        if last is None:
            return
        pending = self.pending.setdefault(conversation_id, _Pending(last[2]))
        pending.through = last[1]
        self._flush_soon(conversation_id)

    def _flush_soon(self, conversation_id: int) -> None:
        if conversation_id not in self._flushing:
            self._flushing.add(conversation_id)
            self._spawn(self._flush(conversation_id))

    async def _flush(self, conversation_id: int) -> None:
        """Send what accumulated for the conversation, one message per batch, in order."""
        try:
            while True:
                # Once round the loop: the events a writer stores together join this batch.
                await asyncio.sleep(0)
                pending = self.pending.pop(conversation_id, None)
                if pending is None:
                    return
                for message in _messages(conversation_id, pending):
                    try:
                        async with timeout(LAYER_TIMEOUT_S):
                            await self.layer.group_send(pending.group, message)
                    except Exception as exc:  # the listeners repair from the next message
                        log.debug("channel layer send failed: %s", exc)
        finally:
            self._flushing.discard(conversation_id)

    # -- presence -----------------------------------------------------------------------
    def announce(self, op: str, conversation_id: int) -> None:
        """Tell the other processes that this one starts or stops listening (in order)."""
        self.presence_ops.append([op, conversation_id])
        self._presence_soon()

    def _announce_all(self) -> None:
        for conversation_id in self.relay.conversations():
            self.presence_ops.append(["join", conversation_id])
        self._presence_soon()

    def _presence_soon(self) -> None:
        if PRESENCE_GROUP not in self._flushing:
            self._flushing.add(PRESENCE_GROUP)
            self._spawn(self._send_presence())

    async def _send_presence(self) -> None:
        try:
            while True:
                await asyncio.sleep(0)
                ops, self.presence_ops = self.presence_ops, []
                query, self.presence_query = self.presence_query, False
                if not ops and not query:
                    return
                for start in range(0, max(len(ops), 1), 500):
                    message = {
                        "type": "relay.presence",
                        "ops": ops[start : start + 500],
                        "query": query and start == 0,
                        "origin": PROCESS_ID,
                        "deployment": _deployment(),
                    }
                    try:
                        async with timeout(LAYER_TIMEOUT_S):
                            await self.layer.group_send(PRESENCE_GROUP, message)
                    except Exception as exc:  # the next refresh says it again
                        log.debug("presence send failed: %s", exc)
        finally:
            self._flushing.discard(PRESENCE_GROUP)

    async def _listen(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(1)
                continue
            self.heard(message)

    def heard(self, message: dict[str, Any]) -> None:
        """Another process's presence announcement."""
        origin = message.get("origin")
        if (
            message.get("type") != "relay.presence"
            or not isinstance(origin, str)
            or origin == PROCESS_ID
            or message.get("deployment") != _deployment()
        ):
            return
        if message.get("query"):
            self._announce_all()
        now = time.monotonic()
        for op in message.get("ops") or ():
            if not (isinstance(op, list) and len(op) == 2 and isinstance(op[1], int)):
                continue
            kind, conversation_id = op
            if kind == "join":
                others = self.listeners.setdefault(conversation_id, {})
                new = others.get(origin, 0.0) <= now
                others[origin] = now + PRESENCE_TTL_S
                if new:
                    self._sync(conversation_id)
            elif kind == "leave":
                others = self.listeners.get(conversation_id, {})
                others.pop(origin, None)
                if not others:
                    self.listeners.pop(conversation_id, None)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_REFRESH_S)
            self._announce_all()
            old = time.monotonic() - RECORD_S
            for conversation_id in [c for c, last in self.last.items() if last[3] < old]:
                del self.last[conversation_id]
            for conversation_id in list(self.listeners):
                self.listened(conversation_id)


def _messages(conversation_id: int, pending: _Pending) -> list[dict[str, Any]]:
    messages = []
    for start in range(0, max(len(pending.events), 1), MAX_BATCH):
        messages.append(
            layer_message(
                conversation_id,
                pending.events[start : start + MAX_BATCH],
                pending.prevs[start : start + MAX_BATCH],
                through=pending.through if start == 0 else None,
            )
        )
    return messages


@functools.cache
def _deployment() -> str:
    """Tells this deployment's layer messages from another's sharing the Redis server
    (Redis pub/sub ignores the db number): its database, whatever the channel prefix."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = f"{db.get('ENGINE')}|{db.get('HOST')}|{db.get('PORT')}|{db.get('NAME')}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def layer_message(
    conversation_id: int,
    events: Sequence[dict[str, Any] | Event],
    prevs: Sequence[int | None] | None = None,
    *,
    through: int | None = None,
) -> dict[str, object]:
    """Run events as they travel to other processes, tagged with where they come from:
    each stored event with the step stored before it in its run here (`prev`, see
    `missed`), and `through`, the last step stored here, when listeners may lack it."""
    return {
        "type": "run.events",
        "events": [e.to_dict() if isinstance(e, Event) else e for e in events],
        "prevs": list(prevs) if prevs is not None else [None] * len(events),
        "through": through,
        "origin": PROCESS_ID,
        "deployment": _deployment(),
        "conversation": conversation_id,
    }


def is_ours(message: dict[str, object], conversation_id: int) -> bool:
    """Whether a layer message is of this deployment and of this very conversation."""
    return (
        message.get("deployment") == _deployment()
        and message.get("conversation") == conversation_id
    )
