"""The chat websocket: receives user messages and approvals, relays run events.

The consumer never runs the agent inside `receive()` (it handles one message at a time, so a
loop there would block approvals and disconnects): it starts the run as a task the process
owns, and the run outlives the socket. Every run event reaches a socket through its one
outbox (`relay.py`) — from a run in this process directly, from another process through the
conversation's group — so all tabs see the same order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from agentcore.events import Event

from . import disclosure, rendering, selectors
from .models import Conversation
from .ratelimit import RateLimiter
from .relay import PROCESS_ID, RELAY, EventData, Outbox
from .runner import ACTIVE_RUNS, ActiveRun, active_run_for, active_runs_for_user, execute_run

log = logging.getLogger(__name__)
RATE_LIMITER = RateLimiter.parse(settings.TASKWEB_RATE_LIMIT)
CLOSE_FORBIDDEN = 4403


def group_name(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


class ChatConsumer(AsyncWebsocketConsumer):
    conversation: Conversation
    wants_json: bool

    async def connect(self) -> None:
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
        query = self.scope.get("query_string", b"").decode()
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        self.wants_json = params.get("format") == "json"
        self.group = group_name(conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.outbox = Outbox(self.send_event)
        RELAY.subscribe(conversation_id, self.outbox)
        after = params.get("after_step", "")
        if after.isdigit():
            await self.catch_up(int(after))

    async def disconnect(self, code: int) -> None:
        # Let go at once; a run in progress keeps going and is persisted as it goes.
        if hasattr(self, "outbox"):
            RELAY.unsubscribe(self.conversation.pk, self.outbox)
            await self.outbox.close()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def catch_up(self, after_step_id: int) -> None:
        """Send the steps persisted since the page was rendered (or since a reconnect)."""
        steps = await database_sync_to_async(
            lambda: list(
                selectors.steps_after(conversation=self.conversation, after_step_id=after_step_id)
            )
        )()
        for step in steps:
            event = Event(
                type=step.type,  # type: ignore[arg-type]
                run_id=str(step.run_id),
                seq=step.seq,
                ts=step.ts.timestamp(),
                payload=step.payload,
            )
            self.outbox.put(event.to_dict())

    # -- incoming ---------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode()) > settings.TASKWEB_MAX_FRAME_BYTES:
            await self.error("frame_too_large", "Message frame over 64 KiB refused.")
            return
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            await self.error("bad_json", "That frame was not valid JSON.")
            return
        if not isinstance(data, dict):
            await self.error("bad_message", "Expected a JSON object.")
            return
        kind = data.get("type") or ("user_message" if "message" in data else None)
        if kind == "user_message":
            await self.on_user_message(data.get("message"))
        elif kind == "approval":
            await self.on_approval(data)
        elif kind == "cancel":
            await self.on_cancel()
        else:
            await self.error("unknown_type", f"Unknown message type {str(kind)[:40]!r}.")

    async def on_user_message(self, message: Any) -> None:
        if not isinstance(message, str) or not message.strip():
            await self.error("empty_message", "Type a message first.")
            return
        text = message.strip()
        limit = settings.TASKWEB_MAX_MESSAGE_CHARS
        if len(text) > limit:
            await self.error(
                "too_long", f"Message is {len(text)} characters; the limit is {limit}."
            )
            return
        user_id = self.conversation.owner_id
        if not RATE_LIMITER.hit(user_id):
            await self.error("rate_limited", "Too many messages; wait a moment and try again.")
            return
        running = active_run_for(self.conversation.pk)
        if running is not None and running.task is not None and not running.task.done():
            await self.error(
                "run_in_progress",
                "A run is still in progress in this conversation; wait for it or cancel it.",
            )
            return
        if active_runs_for_user(user_id) >= settings.TASKWEB_MAX_CONCURRENT_RUNS:
            await self.error("too_many_runs", "You already have the maximum number of runs going.")
            return
        active = ActiveRun(run_id=0, conversation_id=self.conversation.pk, user_id=user_id)
        ACTIVE_RUNS[self.conversation.pk] = active
        active.task = asyncio.create_task(self._run(active, text))

    async def _run(self, active: ActiveRun, text: str) -> str:
        conversation = self.conversation
        layer = self.channel_layer
        group = self.group

        async def publish(event: Event) -> None:
            if event.type == "run_finished" and ACTIVE_RUNS.get(conversation.pk) is active:
                # Free the conversation before anyone hears the run ended: a client that
                # answers run_finished with its next message must not be told "busy".
                del ACTIVE_RUNS[conversation.pk]
            # Only the event travels: each client renders what it needs, so JSON clients
            # cost no HTML and a page on another process renders with its own database.
            await RELAY.publish(layer, conversation.pk, group, event.to_dict())

        def started(run: Any) -> None:
            active.run_id = run.pk

        try:
            run = await execute_run(
                conversation,
                text,
                publish=publish,
                approve=active.wait_for_approval,
                on_start=started,
            )
            return run.status
        finally:
            if ACTIVE_RUNS.get(conversation.pk) is active:
                del ACTIVE_RUNS[conversation.pk]

    async def on_approval(self, data: dict[str, Any]) -> None:
        decision = data.get("decision")
        call_id = str(data.get("call_id") or "")
        if decision not in {"approve", "reject"}:
            await self.error("bad_approval", "decision must be 'approve' or 'reject'.")
            return
        active = active_run_for(self.conversation.pk)
        if active is None or not active.decide(call_id, decision == "approve"):
            await self.error("no_such_approval", "Nothing is waiting for that approval.")

    async def on_cancel(self) -> None:
        active = active_run_for(self.conversation.pk)
        if active is None or active.task is None or active.task.done():
            await self.error("nothing_running", "No run is in progress.")
            return
        active.task.cancel()

    # -- outgoing ---------------------------------------------------------------------
    async def dispatch(self, message: dict[str, Any]) -> None:
        """Queue run events from other processes without Channels' database-thread hop.

        Channels (4.2+) runs `close_old_connections` on Django's one sync thread before every
        handler. A run event uses no connection here (a fragment that needs the database goes
        through `database_sync_to_async`, which closes stale ones itself), and the hop queued
        every event behind the runs' writes: with 50 chats streaming, tokens reached the
        browser ~1 s late (py-spy on daphne, `python -m benchmarks`).
        """
        if message["type"] == "run.event":
            if message.get("origin") != PROCESS_ID:  # this process's sockets have it already
                self.outbox.put(message["event"])
            return
        await super().dispatch(message)

    async def send_event(self, data: EventData) -> None:
        """The outbox's sender: one run event to this client, as JSON or as HTML fragments."""
        data = disclosure.event_for(self.scope.get("user"), data)  # upstream detail: staff only
        if self.wants_json:
            await self.send(text_data=json.dumps(data, default=str))
            return
        await self.deliver(Event(**data))

    async def deliver(self, event: Event) -> None:
        if event.type == "token":  # joined differently per socket, so never shared
            await self.send(text_data=rendering.event_html(event, self.conversation))
            return
        cached = rendering.cached_html(self.conversation.pk, event)
        if cached is None:
            if rendering.needs_database(event):
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
