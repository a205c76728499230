"""One model answer is bounded: a server that streams a megabyte cannot grow the process."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async
from wsclient import connect, events_until

from agentcore.backends.base import truncation_marker
from agentcore.testing.server import ScriptedServer
from tasks.models import BackendProfile
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)
HUGE = " ".join(["a" * 9_999] * 100)  # 1 MB of text in 100 words (each a streamed chunk)


@pytest.mark.parametrize("kind", ["openai_compat", "ollama"])
async def test_a_megabyte_answer_is_cut_at_the_limit_with_a_marker(alice, kind, settings):
    settings.TASKWEB_MAX_ANSWER_CHARS = limit = 64 * 1024
    async with ScriptedServer([HUGE]) as server:
        url = f"{server.url}/v1" if kind == "openai_compat" else server.url
        name = f"huge-{uuid.uuid4().hex[:8]}"
        await BackendProfile.objects.acreate(name=name, kind=kind, model="m", base_url=url)
        conv = await sync_to_async(conversation_create)(user=alice, route=name)
        ws, connected, _ = await connect(alice, conv.pk)
        assert connected
        await ws.send_json_to({"type": "user_message", "message": "say a lot"})
        events = await events_until(ws, timeout=30)
        await ws.disconnect()
    assert events[-1]["payload"]["status"] == "completed"
    final = next(e for e in events if e["type"] == "final")["payload"]["text"]
    assert final.endswith(truncation_marker(limit))
    assert len(final) == limit + len(truncation_marker(limit))
    streamed = "".join(e["payload"]["text"] for e in events if e["type"] == "token")
    assert len(streamed) <= limit + len(truncation_marker(limit))
