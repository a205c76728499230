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
import logging
import os
import socket
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer

log = logging.getLogger(__name__)

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
"""Tags layer messages from this process (pid alone repeats across hosts and restarts)."""

EventData = dict[str, Any]
Send = Callable[[EventData], Awaitable[None]]


def join_tokens(events: Iterable[EventData]) -> list[EventData]:
    """Merge runs of adjacent token events of one run into one (first `ts`, last `seq`)."""
    out: list[EventData] = []
    for event in events:
        last = out[-1] if out else None
        if (
            last is not None
            and event["type"] == "token" == last["type"]
            and event["run_id"] == last["run_id"]
            and event["payload"].get("backend") == last["payload"].get("backend")
        ):
            text = str(last["payload"].get("text", "")) + str(event["payload"].get("text", ""))
            out[-1] = {**last, "seq": event["seq"], "payload": {**last["payload"], "text": text}}
        else:
            out.append(event)
    return out


class Outbox:
    """One socket's pending events, sent in order by one task."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: deque[EventData] = deque()
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._pump())

    def put(self, event: EventData) -> None:
        self._pending.append(event)
        self._wake.set()

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = list(self._pending)
                self._pending.clear()
                for event in join_tokens(batch):
                    try:
                        await self._send(event)
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

    async def publish(
        self, layer: BaseChannelLayer | None, conversation_id: int, group: str, event: EventData
    ) -> None:
        for outbox in self._outboxes.get(conversation_id, ()):
            outbox.put(event)
        if layer is not None and not isinstance(layer, InMemoryChannelLayer):
            message = {"type": "run.event", "event": event, "origin": PROCESS_ID}
            await layer.group_send(group, message)


RELAY = Relay()
