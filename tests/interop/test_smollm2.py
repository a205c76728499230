"""SmolLM2-135M through every real path: llama.cpp server, LiteLLM → llama.cpp, in-process.

The tiny model does not call tools on its own (with `tool_choice` auto it chats), so these
tests assert what is honest: the request/response round trip through the real agent loop,
streamed text, usage counted, and that tool-call recovery ran on its answer. They also print
probe latency and tokens/second per path (run with `-s` to see the table).
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from conftest import MASTER_KEY

from agentcore.backends.base import ModelSettings
from agentcore.backends.llamacpp import LlamaCppBackend
from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.doctor import probe
from agentcore.loop import Agent
from agentcore.messages import Message
from agentcore.specs import Timeouts, parse_spec
from agentcore.tools import Tool, ToolSet

pytestmark = [pytest.mark.interop, pytest.mark.live]
SLOW = Timeouts(connect=5, first_token=120, total=300)


def create_task(title: str) -> dict:
    """Create a task for the user."""
    return {"id": 1, "title": title}


def backends(path: str, llama_server: str | None, proxy: str | None, monkeypatch):
    if path == "llama.cpp server":
        config = parse_spec(f"openai_compat:smollm2@{llama_server}")
        return OpenAICompatBackend.from_config(replace(config, api_key_env="", timeouts=SLOW))
    if path == "LiteLLM → llama.cpp":
        monkeypatch.setenv("INTEROP_LITELLM_KEY", MASTER_KEY)
        config = parse_spec(f"openai_compat:smollm2@{proxy}/v1")
        return OpenAICompatBackend.from_config(
            replace(config, api_key_env="INTEROP_LITELLM_KEY", timeouts=SLOW)
        )
    raise ValueError(path)


@pytest.fixture(params=["llama.cpp server", "LiteLLM → llama.cpp", "in-process"])
def smollm2(request, smollm2_path, llama_cpp_installed, monkeypatch):
    if request.param == "in-process":
        yield request.param, LlamaCppBackend.from_config(parse_spec(f"llamacpp:{smollm2_path}"))
        return
    server = request.getfixturevalue("llama_server")
    proxy = request.getfixturevalue("litellm_proxy") if "LiteLLM" in request.param else None
    yield request.param, backends(request.param, server, proxy, monkeypatch)


async def test_agent_round_trip_streams_counts_usage_and_runs_recovery(smollm2):
    path, backend = smollm2
    agent = Agent(
        backend=backend,
        tools=ToolSet.of([Tool.from_function(create_task)]),
        settings=ModelSettings(temperature=0.0, max_tokens=48),
        max_steps=2,
    )
    messages = [Message(role="user", content="Add a task: buy milk")]
    events = [e async for e in agent.run(messages, run_id=uuid.uuid4().hex)]
    await backend.aclose()
    assert not [e for e in events if e.type == "error" and e.payload["kind"] != "step_limit"]
    responses = [e for e in events if e.type == "model_response"]
    assert responses, path
    first = responses[0].payload
    assert first["input_tokens"] > 0 and first["output_tokens"] > 0
    assert first["ttft_ms"] is not None
    # Recovery ran: either the text held a tool call (then it was executed) or it did not.
    calls = [e for e in events if e.type == "tool_call"]
    results = [e for e in events if e.type == "tool_result"]
    assert len(calls) == len(results)
    assert first["recovered"] is bool(first["tool_calls"]) or not first["tool_calls"]
    assert events[-1].type == "run_finished"


async def test_probe_measures_latency_and_speed(smollm2):
    path, backend = smollm2
    await probe(backend, max_tokens=8)  # warm-up: load the model, fill caches
    result = await probe(backend, max_tokens=64)
    await backend.aclose()
    assert result.reachable is True
    assert result.total_s is not None and result.ttft_s is not None
    source = "estimated" if result.tokens_estimated else "reported"
    print(
        f"\n[{path}] ttft={result.ttft_s * 1000:.0f} ms total={result.total_s * 1000:.0f} ms "
        f"out={result.output_tokens} tok ({source}) "
        f"speed={result.tokens_per_second} tok/s tool_call={result.tool_call}"
    )
