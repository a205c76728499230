"""OllamaBackend against the real loopback ScriptedServer: NDJSON, tools, usage, faults."""

from __future__ import annotations

import pytest
from backend_helpers import ROOMY, collect, config_for, run_agent, task_tools

from agentcore.backends.base import ModelRequest, ModelSettings, TextDelta, UsageChunk
from agentcore.backends.ollama import OllamaBackend
from agentcore.errors import (
    BackendHTTPError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    ModelNotFound,
)
from agentcore.messages import Message, ToolCall
from agentcore.testing.faults import (
    malformed_json,
    rate_limit,
    refuse,
    stall,
    status,
    stream_error,
    tool_call_in_text,
    truncate_stream,
)
from agentcore.testing.server import ScriptedServer

CALL = ToolCall(
    id="call_1", name="create_task", arguments={"title": "Buy milk", "priority": "high"}
)


def backend_for(server: ScriptedServer, model: str = "task-api-model", **changes) -> OllamaBackend:
    return OllamaBackend.from_config(config_for(f"ollama:{model}@{server.url}", **changes))


async def test_text_streams_and_usage_comes_from_the_done_line_in_seconds():
    durations = {"total_duration": 2_000_000_000, "eval_duration": 500_000_000}
    async with ScriptedServer([["Hello there", UsageChunk(20, 5, details=durations)]]) as server:
        chunks = await collect(backend_for(server))
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == "Hello there"
    usage = chunks[-1]
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (20, 5, False)
    assert usage.details["total_s"] == 2.0
    assert usage.details["eval_s"] == 0.5
    assert usage.details["tokens_per_second"] == 10.0


async def test_request_carries_tools_options_and_keep_alive():
    tools, _ = task_tools()
    request = ModelRequest(
        messages=[Message(role="user", content="hi")],
        tools=tools.specs,
        settings=ModelSettings(temperature=0.2, max_tokens=50, num_ctx=4096),
    )
    async with ScriptedServer(["ok"]) as server:
        await collect(backend_for(server, keep_alive="30m"), request)
    body = server.requests[0].body
    assert server.requests[0].path == "/api/chat"
    assert body["options"] == {"temperature": 0.2, "num_ctx": 4096, "num_predict": 50}
    assert body["keep_alive"] == "30m"
    assert body["tools"][0]["function"]["name"] == "create_task"


async def test_native_tool_call_runs_and_the_result_carries_tool_name():
    async with ScriptedServer([CALL, "Added."]) as server:
        tools, created = task_tools()
        events = await run_agent(backend_for(server), tools=tools)
    assert created == [{"id": 1, "title": "Buy milk", "priority": "high"}]
    assert events[-1].payload.status == "completed"
    messages = server.chat_requests[1].body["messages"]
    assistant, tool = messages[-2], messages[-1]
    assert assistant["tool_calls"][0]["function"]["arguments"] == {
        "title": "Buy milk",
        "priority": "high",
    }
    assert tool["role"] == "tool"
    assert tool["tool_name"] == "create_task"


async def test_tool_call_in_text_is_recovered_by_the_loop():
    async with ScriptedServer([tool_call_in_text(CALL), "Added."]) as server:
        events = await run_agent(backend_for(server))
    call = next(e for e in events if e.type == "tool_call")
    assert call.payload.recovered is True
    assert events[-1].payload.status == "completed"


async def test_server_without_usage_reports_zero_counts_not_estimates():
    async with ScriptedServer(["hi"], report_usage=False) as server:
        chunks = await collect(backend_for(server))
    assert chunks[-1] == UsageChunk(0, 0, details={"done_reason": "stop"})


async def test_check_model_passes_for_a_pulled_model_with_or_without_latest():
    async with ScriptedServer(models=["task-api-model:latest"]) as server:
        await backend_for(server).check_model()
        await backend_for(server, model="task-api-model:latest").check_model()


async def test_missing_model_names_the_pull_and_create_commands():
    async with ScriptedServer(models=["llama3:latest"]) as server:
        backend = backend_for(server)
        with pytest.raises(ModelNotFound) as checked:
            await backend.check_model()
        with pytest.raises(ModelNotFound) as chatted:
            await collect(backend)
    for err in (checked.value, chatted.value):
        assert "task-api-model" in str(err)
        assert "ollama pull task-api-model" in str(err)
        assert "ollama create task-api-model -f Modelfile" in str(err)
        assert err.backend == backend.info.name


async def test_error_line_inside_a_200_stream_is_raised():
    script = [stream_error("llama runner process has terminated"), stream_error("model not found")]
    async with ScriptedServer(script) as server:
        backend = backend_for(server, timeouts=ROOMY)  # the full suite once took over 0.5 s
        with pytest.raises(BackendProtocolError, match="llama runner") as err:
            await collect(backend)
        with pytest.raises(ModelNotFound, match="ollama pull"):
            await collect(backend)
    assert err.value.backend == backend.info.name


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (refuse(), BackendUnavailable),
        (stall(5, then="late"), BackendTimeout),
        (truncate_stream("one two three four five six seven"), BackendProtocolError),
        (malformed_json("one two three four"), BackendProtocolError),
        (status(503), BackendHTTPError),
    ],
)
async def test_faults_raise_the_precise_kind_naming_the_backend(fault, error):
    async with ScriptedServer([fault]) as server:
        backend = backend_for(server)
        with pytest.raises(error) as err:
            await collect(backend)
    assert err.value.backend == backend.info.name


async def test_rate_limit_is_retryable_with_retry_after():
    async with ScriptedServer([rate_limit(retry_after=3)]) as server:
        with pytest.raises(BackendHTTPError) as err:
            await collect(backend_for(server))
    assert (err.value.status, err.value.retry_after, err.value.retryable) == (429, 3.0, True)


async def test_generate_mode_renders_chatml_and_recovers_tool_calls():
    async with ScriptedServer([tool_call_in_text(CALL), "Added."]) as server:
        backend = backend_for(server, model="task-api-model#generate")
        events = await run_agent(backend)
    first = server.chat_requests[0]
    assert first.path == "/api/generate"
    assert first.body["raw"] is True
    assert first.body["model"] == "task-api-model"
    assert "<|im_start|>user\nadd buy milk<|im_end|>" in first.body["prompt"]
    assert "create_task" in first.body["prompt"]
    assert next(e for e in events if e.type == "tool_call").payload.recovered is True
    assert "<tool_call>" in server.chat_requests[1].body["prompt"]
    assert events[-1].payload.status == "completed"
