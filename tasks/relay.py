"""Run events to the chat sockets: straight to this process's, through the layer to others'.

A run's events used to reach every socket through the channel layer, even the sockets in the
process running it: per event, a group send, a receive, a dispatch and a frame for each
socket, which saturated the server at 50 streaming chats (py-spy on daphne). Now a run hands
each event to the outboxes of this process's sockets directly; the channel layer carries it
only to other processes (a cross-process layer such as Redis; the in-memory layer has no
other processes), tagged with this process's id so that its own sockets skip the copy.

Even that copy is made only while another process listens to the conversation, batched
(`fanout.py`).

Each socket sends from one outbox, in order. When a socket falls behind a fast stream, the
tokens queued back to back for one run leave as one frame: the text is the same, the relay
costs a frame instead of one per token, so a busy server catches up instead of falling
further behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from channels.layers import BaseChannelLayer, InMemoryChannelLayer

from agentcore.events import Event, Token

from .fanout import Fanout, stored

log = logging.getLogger(__name__)

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
        self.tail = 0
        """Every stored step up to this id is queued here or sent (or the client had it):
        what a layer message from another process is checked against (`missed`)."""

    def put(self, item: Item) -> None:
        if isinstance(item, Event) and item.step_id is not None and stored(item):
            self.tail = max(self.tail, item.step_id)
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
        self._fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = (
            weakref.WeakKeyDictionary()
        )

    def fanout(self, layer: BaseChannelLayer | None) -> Fanout | None:
        """This event loop's link to other processes over `layer`; None without any."""
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return None
        loop = asyncio.get_running_loop()
        fanout = self._fanouts.get(loop)
        if fanout is None or fanout.layer is not layer:
            if fanout is not None:
                fanout.stop()
            fanout = self._fanouts[loop] = Fanout(self, layer)
        return fanout

    def _current(self) -> Fanout | None:
        try:
            return self._fanouts.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    async def start(self, layer: BaseChannelLayer | None) -> None:
        """Link this event loop to the other processes (before its first socket listens)."""
        fanout = self.fanout(layer)
        if fanout is not None:
            await fanout.start()

    def conversations(self) -> list[int]:
        """The conversations this process's sockets listen to."""
        return list(self._outboxes)

    def subscribe(self, conversation_id: int, outbox: Outbox) -> None:
        """Deliver the conversation's events to `outbox` (call once the socket's group
        subscription is in place: other processes start sending when they hear of it)."""
        first = not self._outboxes.get(conversation_id)
        self._outboxes[conversation_id].add(outbox)
        fanout = self._current()
        if first and fanout is not None:
            fanout.announce("join", conversation_id)

    def unsubscribe(self, conversation_id: int, outbox: Outbox) -> None:
        outboxes = self._outboxes.get(conversation_id)
        if outboxes is not None:
            outboxes.discard(outbox)
            if not outboxes:
                del self._outboxes[conversation_id]
                fanout = self._current()
                if fanout is not None:
                    fanout.announce("leave", conversation_id)

    def notice(self, conversation_id: int, code: str, text: str) -> None:
        """Tell this process's sockets of a conversation something that is not a step."""
        for outbox in self._outboxes.get(conversation_id, ()):
            outbox.put((code, text))

    async def publish(
        self, layer: BaseChannelLayer | None, conversation_id: int, group: str, event: Event
    ) -> None:
        """Local sockets at once (they need no Redis), then other processes that listen, in a
        batch sent once the event loop comes round (so this never waits for Redis)."""
        for outbox in self._outboxes.get(conversation_id, ()):
            outbox.put(event)
        fanout = self.fanout(layer)
        if fanout is not None:
            fanout.start_soon()  # (a process's sockets start it first, see the consumer)
            fanout.publish(conversation_id, group, event)


RELAY = Relay()
