"""Real runs (the app's own executor) that push every corpus string into every place it can go.

Each string becomes: the user's message, a task title, description and tag (through a
create_task call), a call id on an approval card, the text of an unknown tool name and of an
invalid argument (tool errors), the model's final answer, and a backend's error reason.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync, sync_to_async
from hostile_strings import CORPUS

from agentcore.errors import BackendError
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks import rendering, services
from tasks.backend_routes import register_backend, unregister_backend
from tasks.runner import execute_run


def _clean_title(text: str) -> str:
    title = text.strip()[:300]
    return title or "blank"


def hostile_turns(text: str, index: int) -> list:
    """One run's script: calls carrying `text`, an approval, then `text` as the answer."""
    call_id = f"c{index}-{text[:40]}"
    return [
        [
            ToolCall(
                id=f"{call_id}-create",
                name="create_task",
                arguments={"title": _clean_title(text), "description": text, "tags": [text[:40]]},
            ),
            ToolCall(id=f"{call_id}-get", name="get_task", arguments={"task_id": text[:200]}),
            ToolCall(id=f"{call_id}-unknown", name=text[:80] or "x", arguments={"x": text[:200]}),
        ],
        ToolCall(id=f"{call_id}-delete", name="delete_task", arguments={"task_id": 10**9}),
        text,
    ]


def run_corpus(conversation_for, strings=CORPUS) -> list[str]:
    """Run one turn per string; returns every HTML fragment the websocket would have sent.

    `conversation_for(index)` gives the conversation each turn goes to (a few strings per
    conversation keep pages small enough to read).
    """
    fragments: list[str] = []

    async def drive() -> None:
        for index, text in enumerate(strings):
            conversation = await sync_to_async(conversation_for)(index)
            name = f"hostile-{conversation.pk}"
            register_backend(name, ScriptedBackend(hostile_turns(text, index)))
            conversation.route = name  # saved: a run reads its conversation afresh
            await conversation.asave(update_fields=["route"])

            async def publish(event, conversation=conversation) -> None:
                html = await sync_to_async(rendering.event_html)(event, conversation)
                fragments.append(html)

            async def approve(call) -> bool:
                return False

            try:
                await execute_run(conversation, text, publish=publish, approve=approve)
            finally:
                unregister_backend(name)
            failing = f"failing-{conversation.pk}"
            register_backend(failing, ScriptedBackend([BackendError(text, backend=failing)]))
            conversation.route = f"{failing},builtin"  # a fallback whose reason is `text`
            await conversation.asave(update_fields=["route"])
            try:
                await execute_run(conversation, "again", publish=publish, approve=approve)
            finally:
                unregister_backend(failing)

    async_to_sync(drive)()
    return fragments


def conversations_for(user, count: int, per: int = 10):
    """A `conversation_for` that puts `per` strings in each of a few conversations."""
    made: dict[int, object] = {}

    def conversation_for(index: int):
        key = index // per
        if key not in made:
            made[key] = services.conversation_create(user=user, route="builtin")
        return made[key]

    conversation_for.made = made  # type: ignore[attr-defined]
    return conversation_for
