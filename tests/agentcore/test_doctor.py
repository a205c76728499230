"""agent_doctor's probe logic against the ScriptedServer, and the pattern advice."""

from __future__ import annotations

import socket
from dataclasses import replace

from agentcore.backends.ollama import OllamaBackend
from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.doctor import probe, recommend_pattern
from agentcore.messages import ToolCall
from agentcore.specs import Timeouts, parse_spec
from agentcore.testing.faults import tool_call_in_text
from agentcore.testing.server import ScriptedServer

CALL = ToolCall(id="c1", name="create_task", arguments={"title": "buy milk"})
QUICK = Timeouts(connect=1.0, first_token=1.0, total=3.0)


def ollama_at(url: str, model: str = "task-api-model") -> OllamaBackend:
    return OllamaBackend.from_config(replace(parse_spec(f"ollama:{model}@{url}"), timeouts=QUICK))


async def test_probe_reports_a_native_tool_call_latency_and_speed():
    async with ScriptedServer([CALL], models=["task-api-model:latest"]) as server:
        result = await probe(ollama_at(server.url))
    assert result.ok, result.problems
    assert (result.reachable, result.model_present, result.tool_call) == (True, True, "native")
    assert result.total_s is not None and result.ttft_s is not None
    assert result.output_tokens > 0
    # The call came whole, so its speed is taken over the whole answer, and says so.
    assert result.rate_includes_prompt is True
    assert result.tokens_per_second == round(result.output_tokens / result.total_s, 1)


async def test_probe_speed_of_streamed_text_excludes_the_wait_for_the_first_token():
    async with ScriptedServer([["word " * 40]], models=["task-api-model"]) as server:
        result = await probe(ollama_at(server.url))
    assert result.rate_includes_prompt is False


async def test_probe_counts_a_tool_call_written_as_text_as_recovered():
    async with ScriptedServer([tool_call_in_text(CALL)], models=["m"]) as server:
        backend = OpenAICompatBackend.from_config(
            replace(parse_spec(f"openai_compat:m@{server.url}/v1"), timeouts=QUICK)
        )
        result = await probe(backend)
    assert result.tool_call == "recovered"


async def test_probe_names_the_missing_model_and_an_unreachable_server():
    async with ScriptedServer(models=["llama3"]) as server:
        missing = await probe(ollama_at(server.url))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = await probe(ollama_at(f"http://127.0.0.1:{port}"))
    assert (missing.reachable, missing.model_present) == (True, False)
    assert "ollama pull task-api-model" in missing.problems[0]
    assert down.reachable is False and not down.ok


async def test_probe_flags_a_model_that_only_chats():
    async with ScriptedServer(["I would add it for you."], models=["task-api-model"]) as server:
        result = await probe(ollama_at(server.url))
    assert result.tool_call == "none"
    assert "called no tool" in result.problems[0]


def test_pattern_advice_follows_models_clients_and_locality():
    local = parse_spec("ollama:task-api-model@http://localhost:11434")
    other = parse_spec("openai_compat:qwen@http://127.0.0.1:4000/v1")
    cloud = parse_spec("openai_compat:gpt-4o-mini@https://api.openai.com/v1")
    assert recommend_pattern([local]).pattern == "direct"
    assert recommend_pattern([local, other]).pattern == "proxy"
    assert recommend_pattern([local], needs_sdk_compatibility=True).pattern == "proxy"
    assert recommend_pattern([local], clients=50).pattern == "cloud endpoint"
    assert recommend_pattern([local, cloud]).pattern == "cloud endpoint"
