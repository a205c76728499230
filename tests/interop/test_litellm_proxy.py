"""A real LiteLLM proxy in front of the ScriptedServer: the agent's wire format survives it.

Deterministic (the upstream is scripted), so these tests assert exact tool calls and usage;
the SmolLM2 tests in test_smollm2.py assert only protocol behaviour.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from conftest import MASTER_KEY

from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.loop import Agent
from agentcore.messages import Message, ToolCall
from agentcore.specs import Timeouts, parse_spec
from agentcore.testing.faults import tool_call_in_text
from agentcore.tools import Tool, ToolSet

pytestmark = [pytest.mark.interop, pytest.mark.live]
CALL = ToolCall(id="call_9", name="create_task", arguments={"title": "Buy milk"})


def tools_and_log():
    created = []

    def create_task(title: str) -> dict:
        """Create a task."""
        created.append(title)
        return {"id": len(created), "title": title}

    return ToolSet.of([Tool.from_function(create_task)]), created


def proxy_backend(url: str, monkeypatch, tool_choice: str = "") -> OpenAICompatBackend:
    monkeypatch.setenv("INTEROP_LITELLM_KEY", MASTER_KEY)
    config = replace(
        parse_spec(f"openai_compat:smollm2@{url}/v1"),
        api_key_env="INTEROP_LITELLM_KEY",
        timeouts=Timeouts(connect=2, first_token=30, total=60),
        tool_choice=tool_choice,
    )
    return OpenAICompatBackend.from_config(config)


async def run(backend, tools):
    messages = [Message(role="user", content="add buy milk")]
    agent = Agent(backend=backend, tools=tools)
    return [e async for e in agent.run(messages, run_id=uuid.uuid4().hex)]


async def test_native_tool_call_and_usage_pass_through_litellm(scripted_litellm, monkeypatch):
    server, url = scripted_litellm([CALL, "Added Buy milk."])
    tools, created = tools_and_log()
    backend = proxy_backend(url, monkeypatch)
    events = await run(backend, tools)
    await backend.aclose()
    assert created == ["Buy milk"]
    responses = [e for e in events if e.type == "model_response"]
    assert responses[0].payload.tool_calls[0]["name"] == "create_task"
    assert responses[0].payload.recovered is False
    assert all(r.payload.input_tokens > 0 for r in responses)
    assert events[-2].payload.text == "Added Buy milk."
    assert events[-1].payload.status == "completed"
    upstream = server.chat_requests[0].body
    assert upstream["tools"][0]["function"]["name"] == "create_task"
    assert MASTER_KEY not in str(server.chat_requests[0].headers)  # the proxy keeps its key


async def test_tool_call_in_text_survives_the_proxy_and_is_recovered(scripted_litellm, monkeypatch):
    _server, url = scripted_litellm([tool_call_in_text(CALL), "Done."])
    tools, created = tools_and_log()
    backend = proxy_backend(url, monkeypatch)
    events = await run(backend, tools)
    await backend.aclose()
    assert created == ["Buy milk"]
    assert next(e for e in events if e.type == "tool_call").payload.recovered is True


async def test_a_wrong_key_is_refused_by_the_proxy(scripted_litellm, monkeypatch):
    from agentcore.errors import BackendHTTPError

    _server, url = scripted_litellm(["never reached"])
    backend = proxy_backend(url, monkeypatch)
    monkeypatch.setenv("INTEROP_LITELLM_KEY", "sk-wrong-key-123")
    events = await run(backend, tools_and_log()[0])
    await backend.aclose()
    error = next(e for e in events if e.type == "error")
    assert error.payload.status in {400, 401, 403}
    assert "sk-wrong-key-123" not in error.to_json()
    assert BackendHTTPError.kind == "http_error"
