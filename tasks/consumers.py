"""The chat websocket: receives user messages, approvals and cancels; relays run events.

The consumer never runs the agent: it hands messages, approvals and cancels to the run
service (`runs.py`), which owns runs whichever process or tab they came from. Every run
event reaches a socket through its one outbox (`relay.py`) — from a run in this process
directly, from another process through the conversation's group — in step order, each
step once: the socket keeps a cursor (the last step id it sent) that a reconnecting client
passes back as `after_step`. Events from another process come with what lets the socket
tell whether it missed a step (that process skips publishing while nobody elsewhere
listens, see `relay.py`); when it did, it reads the steps after the last one it has from
the database first, exactly as a reconnecting client's catch-up.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import Error as DatabaseFailure
from django.template.loader import render_to_string

from agentcore.events import Event, event_from_dict

from . import disclosure, rendering, selectors
from .fanout import PROCESS_ID, is_ours, missed, stored
from .frames import FrameError, parse_frame
from .models import Conversation
from .relay import RELAY, Item, Outbox
from .runner import RunRefused
from .runs import group_name, run_service
from .steps import event_from_step

log = logging.getLogger(__name__)
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_UNAVAILABLE = 4503
MAX_CURSOR_DIGITS = 18

OPEN_SOCKETS: Counter[int] = Counter()
"""Open chat sockets per user, in this process (the cap is per process)."""

ERRORS = {
    "no_such_approval": "Nothing is waiting for that approval.",
    "nothing_running": "No run is in progress.",
    "owner_unreachable": "The server running this run cannot be reached right now.",
}


class ChatConsumer(AsyncWebsocketConsumer):
    conversation: Conversation
    wants_json: bool

    async def connect(self) -> None:
        try:
            await self._connect()
        except DatabaseFailure:
            log.warning("database error while opening a chat socket", exc_info=True)
            await self.close(code=CLOSE_UNAVAILABLE)

    async def _connect(self) -> None:
        user = self.scope.get("user") or AnonymousUser()
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        conversation = await database_sync_to_async(selectors.conversation_for_user)(
            user=user, conversation_id=conversation_id
        )
        if conversation is None:
            # Unauthenticated, or not the owner: same refusal, so ids reveal nothing.
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.conversation = conversation
        query = self.scope.get("query_string", b"").decode("latin-1")
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        self.wants_json = params.get("format") == "json"
        owner = conversation.owner_id
        if OPEN_SOCKETS[owner] >= settings.TASKWEB_MAX_SOCKETS_PER_USER:
            await self.accept()
            await self.error("too_many_sockets", "Too many open chat tabs; close some first.")
            await self.close(code=CLOSE_TOO_MANY)
            return
        OPEN_SOCKETS[owner] += 1
        self.counted = True
        self.cursor = 0
        """The last step id this client has (sent or given as after_step)."""
        await run_service().ensure_started(self.channel_layer)
        await RELAY.start(self.channel_layer)
        after = params.get("after_step", "")
        bad = bool(after) and (not after.isdigit() or len(after) > MAX_CURSOR_DIGITS)
        baseline = 0
        if not (after and not bad) and RELAY.fanout(self.channel_layer) is not None:
            # A client without a cursor gets what is stored from now on: read where that
            # starts before listening, so that a step another process stores meanwhile and
            # does not publish (it has not heard of this socket yet) is repaired, not lost.
            baseline = await database_sync_to_async(selectors.last_step_id)(
                conversation=conversation
            )
        # Listening before accepting: no event of a run can fall between the two.
        self.group = group_name(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.outbox = Outbox(self.send_item)
        self.outbox.tail = baseline
        if after and not bad:
            self.outbox.hold()
        RELAY.subscribe(conversation_id, self.outbox)
        await self.accept()
        if bad:
            await self.error("bad_after_step", "after_step must be a step id; not caught up.")
        elif after:
            await self.catch_up(int(after))

    async def disconnect(self, code: int) -> None:
        # Let go at once; a run in progress keeps going and is stored as it goes.
        if getattr(self, "counted", False):
            OPEN_SOCKETS[self.conversation.owner_id] -= 1
            if OPEN_SOCKETS[self.conversation.owner_id] <= 0:
                del OPEN_SOCKETS[self.conversation.owner_id]
        if hasattr(self, "outbox"):
            RELAY.unsubscribe(self.conversation.pk, self.outbox)
            await self.outbox.close()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def catch_up(self, after_step_id: int) -> None:
        """Send the steps stored since the client's cursor, then what arrived meanwhile.

        The socket already hears live events; those queue behind the stored steps, and the
        cursor drops any step both paths bring.
        """
        self.cursor = after_step_id
        self.outbox.tail = max(self.outbox.tail, after_step_id)
        steps: list[Event] = []
        try:
            steps = await database_sync_to_async(self.steps_after)(after_step_id)
        finally:
            self.outbox.release(steps)

    def steps_after(self, after_step_id: int) -> list[Event]:
        return [
            event_from_step(s)
            for s in selectors.steps_after(
                conversation=self.conversation, after_step_id=after_step_id
            )
        ]

    async def repair(self) -> None:
        """Read the steps stored after the last one this socket has, ahead of what comes
        next: another process's events showed that the socket missed some."""
        after = self.outbox.tail
        steps: list[Event] = []
        self.outbox.hold()
        try:
            steps = await database_sync_to_async(self.steps_after)(after)
        except DatabaseFailure:
            log.warning("database error while repairing a chat socket's steps", exc_info=True)
        finally:
            self.outbox.release(steps)

    # -- incoming ---------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_frame(text_data, bytes_data)
        except FrameError as exc:
            await self.error(exc.code, str(exc))
            return
        try:
            if frame.kind == "user_message":
                await self.on_user_message(frame.message)
            elif frame.kind == "approval":
                await self.on_approval(frame.call_id, frame.decision)
            else:
                await self.on_cancel()
        except DatabaseFailure:
            log.warning("database error while handling a %s frame", frame.kind, exc_info=True)
            await self.error(
                "database_unavailable",
                "The database did not answer; nothing was done. Try again in a moment.",
            )

    async def on_user_message(self, text: str) -> None:
        try:
            await run_service().start(self.conversation, text)
        except RunRefused as exc:
            await self.error(exc.code, str(exc))

    async def on_approval(self, call_id: str, decision: str) -> None:
        code = await run_service().approve(self.conversation.pk, call_id, decision == "approve")
        if code is not None:
            await self.error(code, ERRORS[code])

    async def on_cancel(self) -> None:
        code = await run_service().cancel(self.conversation.pk)
        if code is not None:
            await self.error(code, ERRORS[code])

    # -- outgoing ---------------------------------------------------------------------
    async def dispatch(self, message: dict[str, Any]) -> None:
        """Queue run events from other processes without Channels' database-thread hop.

        Channels (4.2+) runs `close_old_connections` on Django's one sync thread before every
        handler. A run event uses no connection here, and the hop queued every event behind
        the runs' writes: with 50 chats streaming, tokens reached the browser ~1 s late.
        """
        if message["type"] == "run.events":
            # This process's sockets have its own events already; another deployment's or
            # another conversation's events are not this socket's to show.
            if message.get("origin") != PROCESS_ID and is_ours(message, self.conversation.pk):
                await self.from_elsewhere(message)
            return
        if message["type"] == "websocket.receive":
            # Likewise for frames: a cancel or an approval must not wait behind a tool's
            # database work (what needs the database hops there itself).
            await self.websocket_receive(message)  # type: ignore[arg-type]
            return
        await super().dispatch(message)

    async def from_elsewhere(self, message: dict[str, Any]) -> None:
        """Queue another process's run events, after the steps they show this socket lacks."""
        try:
            events = [event_from_dict(e) for e in message["events"]]
            prevs = [p if isinstance(p, int) else None for p in message["prevs"]]
            through = message.get("through")
            through = through if isinstance(through, int) else None
            if len(prevs) != len(events):
                raise ValueError("one prev per event")
        except (ValueError, KeyError, TypeError):
            log.debug("dropped a malformed run event message from the layer")
            return
        if missed(self.outbox.tail, events, prevs, through):
            await self.repair()
            # Tokens from before a step just read are in that step's text already.
            tail = self.outbox.tail
            events = [e for e in events if stored(e) or e.step_id is None or e.step_id >= tail]
        for event in events:
            self.outbox.put(event)

    async def send_item(self, item: Item) -> None:
        """The outbox's sender: one event (or notice) to this client, as JSON or HTML."""
        if not isinstance(item, Event):
            code, text = item
            if not disclosure.sees_detail(self.scope.get("user")):
                text = disclosure.scrub(text)  # a notice may quote an exception
            await self.error(code, text)
            return
        item = disclosure.event_for(self.scope.get("user"), item)  # upstream detail: staff only
        step = item.step_id
        if item.type != "token" and step is not None:
            if step <= self.cursor:
                return  # this client has it (catch-up and live both brought it)
            self.cursor = step
        if self.wants_json:
            await self.send(text_data=json.dumps(item.to_dict(), default=str))
            return
        await self.deliver(item)

    async def deliver(self, event: Event) -> None:
        if event.type == "token":  # joined differently per socket, so never shared
            await self.send(text_data=rendering.event_html(event, self.conversation))
            return
        cached = rendering.cached_html(self.conversation.pk, event)
        if cached is None:
            if rendering.needs_database(event, self.conversation):
                cached = await database_sync_to_async(rendering.event_html)(
                    event, self.conversation
                )
            else:
                cached = rendering.event_html(event, self.conversation)
            rendering.cache_html(self.conversation.pk, event, cached)
        if cached:
            await self.send(text_data=cached)

    async def error(self, code: str, text: str) -> None:
        """A refusal for this client only (not a run event, so nothing to order against)."""
        if self.wants_json:
            await self.send(text_data=json.dumps({"type": "error", "code": code, "message": text}))
        else:
            html = render_to_string("tasks/partials/notice.html", {"code": code, "text": text})
            await self.send(text_data=html)
