"""Run events to the chat sockets: straight to this process's, through the layer to others'.

A run's events used to reach every socket through the channel layer, even the sockets in the
process running it: per event, a group send, a receive, a dispatch and a frame for each
socket, which saturated the server at 50 streaming chats (py-spy on daphne). Now a run hands
each event to the outboxes of this process's sockets directly; the channel layer carries it
only to other processes (a cross-process layer such as Redis; the in-memory layer has no
other processes), tagged with this process's id so that its own sockets skip the copy.

Each socket sends from one outbox, in order. When a socket falls behind a fast stream, the
tokens queued back to back for one run leave as one frame: the text is the same, the relay
costs a frame instead of one per token, so a busy server catches up instead of falling
further behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import socket
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from channels.layers import BaseChannelLayer, InMemoryChannelLayer

from agentcore.compat import timeout
from agentcore.events import Event, Token

log = logging.getLogger(__name__)

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""Tags layer messages from this process (pid alone repeats across hosts and restarts)."""

Notice = tuple[str, str]
"""A client-only notice (code, text): not a run step, so not stored and never replayed."""
Item = Event | Notice
Send = Callable[[Item], Awaitable[None]]


def join_tokens(items: Iterable[Item]) -> list[Item]:
    """Merge runs of adjacent token events of one run into one (first `ts`, last `seq`)."""
    out: list[Item] = []
    for item in items:
        last = out[-1] if out else None
        if (
            isinstance(item, Event)
            and isinstance(last, Event)
            and isinstance(item.payload, Token)
            and isinstance(last.payload, Token)
            and item.run_id == last.run_id
            and item.payload.backend == last.payload.backend
        ):
            text = last.payload.text + item.payload.text
            out[-1] = replace(
                last,
                seq=item.seq,
                step_id=item.step_id,
                payload=replace(last.payload, text=text),
            )
        else:
            out.append(item)
    return out


class Outbox:
    """One socket's pending events, sent in order by one task."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: deque[Item] = deque()
        self._held: list[Item] | None = None
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._pump())

    def put(self, item: Item) -> None:
        if self._held is not None:
            self._held.append(item)
            return
        self._pending.append(item)
        self._wake.set()

    def hold(self) -> None:
        """Keep live events back (while a catch-up reads what came before them)."""
        self._held = []

    def release(self, first: Iterable[Item]) -> None:
        """Send `first` (the catch-up), then the events held meanwhile."""
        held, self._held = self._held or [], None
        for item in [*first, *held]:
            self.put(item)

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = list(self._pending)
                self._pending.clear()
                for item in join_tokens(batch):
                    try:
                        await self._send(item)
                    except Exception:  # a socket gone mid-send: stop, the run goes on
                        log.debug("outbox send failed; dropping this socket's events")
                        return

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Relay:
    """The outboxes of this process's sockets, by conversation."""

    def __init__(self) -> None:
        self._outboxes: defaultdict[int, set[Outbox]] = defaultdict(set)

    def subscribe(self, conversation_id: int, outbox: Outbox) -> None:
        self._outboxes[conversation_id].add(outbox)

    def unsubscribe(self, conversation_id: int, outbox: Outbox) -> None:
        outboxes = self._outboxes.get(conversation_id)
        if outboxes is not None:
            outboxes.discard(outbox)
            if not outboxes:
                del self._outboxes[conversation_id]

    def notice(self, conversation_id: int, code: str, text: str) -> None:
        """Tell this process's sockets of a conversation something that is not a step."""
        for outbox in self._outboxes.get(conversation_id, ()):
            outbox.put((code, text))

    async def publish(
        self, layer: BaseChannelLayer | None, conversation_id: int, group: str, event: Event
    ) -> None:
        """Local sockets first (they need no Redis), then other processes, if reachable."""
        for outbox in self._outboxes.get(conversation_id, ()):
            outbox.put(event)
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return
        message = layer_message(conversation_id, event)
        try:
            async with timeout(LAYER_TIMEOUT_S):
                await layer.group_send(group, message)
        except Exception as exc:  # the layer logs the outage once (tasks.layer)
            log.debug("channel layer send failed: %s", exc)


@functools.cache
def _deployment() -> str:
    """Tells this deployment's layer messages from another's sharing the Redis server
    (Redis pub/sub ignores the db number): its database, whatever the channel prefix."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    where = f"{db.get('ENGINE')}|{db.get('HOST')}|{db.get('PORT')}|{db.get('NAME')}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def layer_message(conversation_id: int, event: Event) -> dict[str, object]:
    """A run event as it travels to other processes, tagged with where it comes from."""
    return {
        "type": "run.event",
        "event": event.to_dict(),
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


LAYER_TIMEOUT_S = 2.0
"""A send to the channel layer that takes longer is given up (the run goes on)."""

RELAY = Relay()
