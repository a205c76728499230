"""OpenAICompatBackend against the real loopback ScriptedServer: SSE, tool deltas, faults."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import pytest
from backend_helpers import QUICK, REQUEST, collect, config_for, run_agent, task_tools

from agentcore.backends._http import POOL_SHARDS
from agentcore.backends.base import NoticeChunk, TextDelta, ToolCallChunk, UsageChunk
from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.backends.wire import apply_tool_call_deltas, finish_tool_calls
from agentcore.errors import (
    BackendHTTPError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    ContextTooLong,
    ModelNotFound,
)
from agentcore.messages import ToolCall
from agentcore.testing.faults import (
    context_too_long,
    empty_stream,
    malformed_json,
    rate_limit,
    refuse,
    stall,
    status,
    tool_call_in_text,
    truncate_stream,
)
from agentcore.testing.server import ScriptedServer

KEY = "sk-test-SECRET-0123456789"
CALL = ToolCall(id="call_1", name="create_task", arguments={"title": "Buy milk"})


def backend_for(server: ScriptedServer, **changes) -> OpenAICompatBackend:
    return OpenAICompatBackend.from_config(
        config_for(f"openai_compat:gpt-test@{server.url}/v1", **changes)
    )


async def test_text_streams_as_deltas_with_the_servers_usage():
    async with ScriptedServer([["Hello there", UsageChunk(12, 3)]]) as server:
        chunks = await collect(backend_for(server))
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == "Hello there"
    assert chunks[-1] == UsageChunk(12, 3)
    body = server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-test"


async def test_tool_call_deltas_are_assembled_and_run_by_the_loop():
    async with ScriptedServer([CALL, "Added Buy milk."]) as server:
        tools, created = task_tools()
        events = await run_agent(backend_for(server), tools=tools)
    calls = [e for e in events if e.type == "tool_call"]
    assert [(c.payload.name, c.payload.arguments) for c in calls] == [
        ("create_task", {"title": "Buy milk"})
    ]
    assert calls[0].payload.recovered is False
    assert created == [{"id": 1, "title": "Buy milk", "priority": "medium"}]
    assert events[-2].type == "final"
    second = server.chat_requests[1].body
    assert second["messages"][-1]["role"] == "tool"
    assert second["messages"][-1]["tool_call_id"] == "call_1"
    assert second["tools"][0]["function"]["name"] == "create_task"


@pytest.mark.parametrize(
    ("option", "first"),
    [
        ("create_task", {"type": "function", "function": {"name": "create_task"}}),
        ("required", "required"),
    ],
)
async def test_a_forced_tool_choice_holds_until_the_first_tool_result(option, first):
    async with ScriptedServer([CALL, "Added Buy milk."]) as server:
        tools, created = task_tools()
        backend = backend_for(server, tool_choice=option)
        events = await run_agent(backend, tools=tools)
    assert created and events[-1].payload.status == "completed"
    bodies = [r.body for r in server.chat_requests]
    assert bodies[0]["tool_choice"] == first
    assert "tool_choice" not in bodies[1], "a forced choice every round would never answer"


async def test_a_tool_choice_naming_no_tool_is_a_config_error_listing_the_tools():
    async with ScriptedServer(["never sent"]) as server:
        tools, _ = task_tools()
        events = await run_agent(backend_for(server, tool_choice="send_email"), tools=tools)
    error = next(e for e in events if e.type == "error")
    assert "send_email" in error.payload.message and "create_task" in error.payload.message
    assert server.chat_requests == []


@pytest.mark.parametrize(
    "script",
    [[status(500, "")], [empty_stream(), status(500, "")]],
    ids=["streamed", "after the empty-stream retry, as llama-cpp-python does"],
)
async def test_a_500_on_tool_choice_required_says_why_and_is_not_retried(script):
    async with ScriptedServer(script) as server:
        tools, _ = task_tools()
        backend = backend_for(server, tool_choice="required")
        with pytest.raises(BackendHTTPError) as err:
            await collect(backend, replace(REQUEST, tools=tools.specs))
    assert "name a tool instead" in str(err.value)
    assert err.value.retryable is False


def test_tool_call_delta_assembly_is_a_pure_fold_by_index():
    deltas = [
        [{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}],
        [{"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": "{"}}],
        [{"index": 0, "function": {"arguments": '{"x": '}}],
        [{"index": 0, "function": {"arguments": "1}"}}],
        [{"index": 1, "function": {"arguments": "}"}}],
    ]
    partials: dict = {}
    for delta in deltas:
        partials = apply_tool_call_deltas(partials, delta)
    assert finish_tool_calls(partials) == [
        ToolCall(id="a", name="f", arguments={"x": 1}),
        ToolCall(id="b", name="g", arguments={}),
    ]


async def test_tool_call_written_as_text_is_recovered_by_the_loop():
    async with ScriptedServer([tool_call_in_text(CALL), "Done."]) as server:
        events = await run_agent(backend_for(server))
    call = next(e for e in events if e.type == "tool_call")
    assert call.payload.recovered is True
    assert call.payload.name == "create_task"
    assert events[-1].payload.status == "completed"


async def test_missing_usage_is_estimated_and_marked_so():
    async with ScriptedServer(["Four words of text"], report_usage=False) as server:
        chunks = await collect(backend_for(server))
    usage = chunks[-1]
    assert isinstance(usage, UsageChunk)
    assert usage.estimated is True
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0


async def test_empty_stream_is_retried_once_without_streaming_and_says_so():
    async with ScriptedServer([empty_stream(), CALL, "ok"]) as server:
        events = await run_agent(backend_for(server))
    retry = next(e for e in events if e.type == "retry")
    assert retry.payload.notice == "stream_retry"
    assert "empty stream" in retry.payload.reason
    assert [r.body["stream"] for r in server.chat_requests] == [True, False, True]
    assert any(e.type == "tool_result" for e in events)
    assert events[-1].payload.status == "completed"


async def test_a_stream_cut_after_text_is_an_error_and_never_retried():
    async with ScriptedServer([truncate_stream("one two three four five six")]) as server:
        backend = backend_for(server)
        with pytest.raises(BackendProtocolError) as err:
            await collect(backend)
    assert err.value.backend == backend.info.name
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        (status(503), BackendHTTPError, 503),
        (status(500), BackendHTTPError, 500),
        (status(401, "invalid api key"), BackendHTTPError, 401),
        (context_too_long(), ContextTooLong, 400),
    ],
)
async def test_http_errors_map_to_the_taxonomy(fault, error, code):
    async with ScriptedServer([fault]) as server:
        backend = backend_for(server)
        with pytest.raises(error) as err:
            await collect(backend)
    assert type(err.value) is error
    assert err.value.status == code
    assert err.value.retryable is (code >= 500)
    assert err.value.backend == backend.info.name
    assert backend.info.name in str(err.value)


async def test_rate_limit_carries_retry_after_in_seconds_or_as_a_date():
    async with ScriptedServer(
        [rate_limit(retry_after=2), rate_limit(retry_after="Wed, 21 Oct 2015 07:28:00 GMT")]
    ) as server:
        backend = backend_for(server)
        with pytest.raises(BackendHTTPError) as first:
            await collect(backend)
        with pytest.raises(BackendHTTPError) as second:
            await collect(backend)
    assert (first.value.status, first.value.retry_after, first.value.retryable) == (429, 2.0, True)
    assert second.value.retry_after == 0.0  # a date in the past: retry now


async def test_unknown_model_is_model_not_found():
    async with ScriptedServer([status(404, "The model `gpt-test` does not exist")]) as server:
        with pytest.raises(ModelNotFound, match="gpt-test"):
            await collect(backend_for(server))


async def test_refused_stalled_and_malformed_calls_raise_their_kinds():
    async with ScriptedServer([refuse(), stall(5, then="late"), malformed_json()]) as server:
        backend = backend_for(server)
        with pytest.raises(BackendUnavailable):
            await collect(backend)
        with pytest.raises(BackendTimeout, match="first byte"):
            await collect(backend)
        with pytest.raises(BackendProtocolError, match="malformed"):
            await collect(backend)


async def test_closed_port_is_unavailable_and_names_the_backend():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAICompatBackend.from_config(
        config_for(f"openai_compat:m@http://127.0.0.1:{port}/v1")
    )
    with pytest.raises(BackendUnavailable) as err:
        await collect(backend)
    assert err.value.backend == backend.info.name
    assert err.value.retryable


async def test_api_key_is_sent_but_never_shown(monkeypatch):
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    script = ["hi", status(401, f"Incorrect API key provided: {KEY}")]
    async with ScriptedServer(script) as server:
        backend = backend_for(server, api_key_env="TEST_OPENAI_KEY", headers={"X-Team": "ops"})
        events = await run_agent(backend)
        failed = await run_agent(backend)
    headers = server.chat_requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["x-team"] == "ops"
    shown = [repr(backend), repr(backend.http), repr(backend.config)]
    shown += [e.to_json() for e in events + failed]
    assert all(KEY not in text for text in shown)
    error = next(e for e in failed if e.type == "error")
    assert error.payload.status == 401
    assert "***" in error.payload.message


async def test_one_client_serves_every_call():
    async with ScriptedServer(["a", "b"]) as server:
        backend = backend_for(server)
        await collect(backend)
        pool = backend.http.pool
        await collect(backend)
        assert backend.http.pool == pool, "no client is made on the request path"
        assert len(pool) == POOL_SHARDS
        await backend.aclose()


async def test_settings_and_tools_reach_the_wire():
    from agentcore.backends.base import ModelRequest, ModelSettings

    tools, _ = task_tools()
    request = ModelRequest(
        messages=REQUEST.messages,
        tools=tools.specs,
        settings=ModelSettings(temperature=0.0, max_tokens=64),
    )
    async with ScriptedServer(["ok"]) as server:
        await collect(backend_for(server), request)
    body = server.requests[0].body
    assert (body["temperature"], body["max_tokens"]) == (0.0, 64)
    assert json.dumps(body["tools"][0]["function"]["parameters"])
    assert QUICK.first_token < 1


async def test_notice_comes_before_any_retried_chunk():
    async with ScriptedServer([empty_stream(), "after"]) as server:
        chunks = await collect(backend_for(server))
    assert isinstance(chunks[0], NoticeChunk)
    assert chunks[0].notice == "stream_retry"
    assert [type(c) for c in chunks[1:]] == [TextDelta, UsageChunk]
    assert not any(isinstance(c, ToolCallChunk) for c in chunks)


def test_a_backend_used_on_a_finished_event_loop_closes_cleanly_on_a_new_one():
    import asyncio

    with ScriptedServer(["a"]) as server:
        backend = backend_for(server)
        asyncio.run(collect(backend))  # its clients belong to that loop, closed now
        asyncio.run(backend.aclose())
        assert backend.http.pool == ()
