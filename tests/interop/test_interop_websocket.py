"""The web app's websocket, end to end through a real LiteLLM proxy.

browser protocol → consumer → agent → LiteLLM → upstream (ScriptedServer or llama.cpp's
server with SmolLM2) → tool call → the user's real task tools → final answer.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from test_litellm_proxy import CALL, proxy_backend
from wsclient import connect, events_until

from tasks.models import AgentRun, RunStep, Task
from tasks.services import conversation_create

pytestmark = [pytest.mark.interop, pytest.mark.live, pytest.mark.django_db(transaction=True)]


async def chat(user, route, text, timeout=60.0):
    conv = await sync_to_async(conversation_create)(user=user, route=route)
    ws, connected, _ = await connect(user, conv.pk)
    assert connected
    await ws.send_json_to({"type": "user_message", "message": text})
    events = await events_until(ws, timeout=timeout)
    await ws.disconnect()
    return conv, events


async def test_a_tool_call_through_litellm_creates_the_users_task_over_the_websocket(
    scripted_litellm, monkeypatch, alice, scripted_route
):
    server, url = scripted_litellm([CALL, "Added Buy milk."])
    backend = proxy_backend(url, monkeypatch)
    conv, events = await chat(alice, scripted_route(backend), "add buy milk")
    await backend.aclose()
    types = [e["type"] for e in events]
    assert types.index("tool_call") < types.index("tool_result") < types.index("final")
    assert await Task.objects.filter(owner=alice, title="Buy milk").aexists()
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.status == "completed" and run.input_tokens > 0 and run.output_tokens > 0
    assert await RunStep.objects.filter(run=run, type="tool_call").aexists()
    assert len(server.chat_requests) == 2


async def test_smollm2_through_litellm_creates_alices_task_over_the_websocket(
    litellm_proxy, monkeypatch, alice, scripted_route
):
    """The done-when of the real-backends issue, in the web app: a real model's forced
    create_task call through LiteLLM → llama.cpp runs on alice's tasks, then it answers."""
    backend = proxy_backend(litellm_proxy, monkeypatch, tool_choice="create_task")
    conv, events = await chat(
        alice, scripted_route(backend), "Create a high priority task to call the plumber", 180
    )
    await backend.aclose()
    types = [e["type"] for e in events]
    assert events[-1]["payload"]["status"] == "completed", types
    calls = [e["payload"] for e in events if e["type"] == "tool_call"]
    assert calls and calls[0]["name"] == "create_task", types
    assert types.index("tool_result") < types.index("final")
    task = await Task.objects.aget(owner=alice)
    assert task.title == calls[0]["arguments"]["title"]
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.tool_calls == 1 and run.output_tokens > 0
