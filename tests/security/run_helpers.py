"""Small helpers for the security suite: one run through the app's executor, websocket clients."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from wsclient import connect  # noqa: F401  (re-exported for the security tests)

from tasks.runner import execute_run
from tasks.services import conversation_create

ORIGIN = (b"origin", b"http://localhost")


async def make_conversation(user, route: str):
    return await sync_to_async(conversation_create)(user=user, route=route)


async def run_turn(conversation, text: str, *, approve=None) -> tuple[object, list]:
    """One turn through the runner (as the consumer and agent_chat do); returns (run, events)."""
    events: list = []

    async def publish(event) -> None:
        events.append(event)

    run = await execute_run(conversation, text, publish=publish, approve=approve)
    return run, events


def calls_of(events, name: str | None = None) -> list:
    return [e for e in events if e.type == "tool_call" and (name is None or e.payload.name == name)]


async def receive_until(communicator, last: str = "run_finished", timeout: float = 10.0) -> list:
    """JSON frames up to the first of type `last` (errors are frames too)."""
    frames = []
    while True:
        frame = json.loads(await communicator.receive_from(timeout=timeout))
        frames.append(frame)
        if frame["type"] == last:
            return frames
