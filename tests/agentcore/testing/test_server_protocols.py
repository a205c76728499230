"""ScriptedServer's answers parsed by the official `ollama` and `openai` clients.

If the fake drifted from the real wire formats, these clients would reject its output, so
the backend tests that rely on it could not pass against a fake that lies.
"""

from __future__ import annotations

import asyncio

import httpx
import ollama
import openai
import pytest

from agentcore.messages import ToolCall
from agentcore.testing.faults import rate_limit, status, stream_error
from agentcore.testing.server import ScriptedServer

CALL = ToolCall(id="call_7", name="create_task", arguments={"title": "Buy milk", "tags": ["home"]})
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "create_task",
            "description": "Create a task",
            "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        },
    }
]
MESSAGES = [{"role": "user", "content": "add buy milk"}]


def test_ollama_client_reads_a_streamed_chat_with_usage():
    with ScriptedServer(["Hello there friend"]) as server:
        parts = list(ollama.Client(host=server.url).chat(model="m", messages=MESSAGES, stream=True))
    assert "".join(p.message.content or "" for p in parts) == "Hello there friend"
    final = parts[-1]
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.eval_count and final.eval_count > 0
    assert final.prompt_eval_count and final.total_duration and final.eval_duration


def test_ollama_client_reads_native_tool_calls_streamed_and_whole():
    with ScriptedServer([CALL, CALL]) as server:
        client = ollama.Client(host=server.url)
        parts = list(client.chat(model="m", messages=MESSAGES, tools=TOOLS, stream=True))
        whole = client.chat(model="m", messages=MESSAGES, tools=TOOLS, stream=False)
    calls = [c for p in parts for c in p.message.tool_calls or []]
    for found in (calls, whole.message.tool_calls or []):
        assert [(c.function.name, dict(c.function.arguments)) for c in found] == [
            ("create_task", {"title": "Buy milk", "tags": ["home"]})
        ]
    assert server.requests[0].body["tools"][0]["function"]["name"] == "create_task"


def test_ollama_client_reads_generate_and_tags():
    with ScriptedServer(["raw completion"], models=["task-api-model:latest"]) as server:
        client = ollama.Client(host=server.url)
        parts = list(client.generate(model="task-api-model", prompt="hi", stream=True))
        listed = client.list()
    assert "".join(p.response for p in parts) == "raw completion"
    assert parts[-1].done is True
    assert [m.model for m in listed.models] == ["task-api-model:latest"]


def test_ollama_client_sees_a_missing_model_and_in_stream_errors():
    with ScriptedServer([stream_error("runner crashed")], models=["other"]) as server:
        client = ollama.Client(host=server.url)
        with pytest.raises(ollama.ResponseError) as missing:
            client.chat(model="task-api-model", messages=MESSAGES)
        server.models = None
        with pytest.raises(ollama.ResponseError, match="runner crashed"):
            list(client.chat(model="m", messages=MESSAGES, stream=True))
    assert missing.value.status_code == 404
    assert "not found" in missing.value.error


def test_openai_client_reads_a_streamed_completion_with_tool_deltas_and_usage():
    with ScriptedServer([["Let me add it.", CALL]]) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0)
        chunks = list(
            client.chat.completions.create(
                model="m",
                messages=MESSAGES,
                tools=TOOLS,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me add it."
    deltas = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert deltas[0].id == "call_7"
    assert deltas[0].function.name == "create_task"
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert arguments == '{"title": "Buy milk", "tags": ["home"]}'
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert server.requests[0].headers["authorization"] == "Bearer k"


def test_openai_client_reads_a_whole_completion_and_the_model_list():
    with ScriptedServer([CALL], models=["gpt-test"]) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0)
        completion = client.chat.completions.create(model="gpt-test", messages=MESSAGES)
        models = [m.id for m in client.models.list()]
    call = completion.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name) == ("call_7", "create_task")
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None
    assert models == ["gpt-test"]


def test_openai_client_maps_the_servers_error_statuses():
    with ScriptedServer([rate_limit(retry_after=2), status(401, "bad key")]) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.RateLimitError) as limited:
            client.chat.completions.create(model="m", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError, match="bad key"):
            client.chat.completions.create(model="m", messages=MESSAGES)
    assert limited.value.response.headers["retry-after"] == "2"


async def test_server_answers_hundreds_of_concurrent_keep_alive_calls():
    in_flight = peak = 0

    async def slow_ok(request, info):
        # Counts requests being answered at once: a server that served them one after
        # another would never have more than one in flight. (Speed lives in benchmarks/.)
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return "ok"

    async with ScriptedServer(slow_ok) as server:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:

            async def call() -> int:
                body = {"model": "m", "messages": MESSAGES, "stream": False}
                return (await client.post("/api/chat", json=body)).status_code

            codes = await asyncio.gather(*(call() for _ in range(300)))
    assert codes == [200] * 300
    assert peak > 10, f"at most {peak} request(s) were answered at once"
