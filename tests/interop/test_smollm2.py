"""SmolLM2-135M through every real path: llama.cpp server, LiteLLM → llama.cpp, in-process.

The tiny model does not call tools on its own (with `tool_choice` auto it chats), so the first
test asserts what is honest for auto: the round trip through the real agent loop, usage
counted, recovery run on its answer. With `tool_choice=create_task` llama.cpp constrains the
first answer to that tool's JSON schema, so the second test asserts a real model's call that
validates, runs, and is followed by an answer. The probe prints latency and tokens/second per
path (run with `-s` to see the table).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Literal

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


def spec_for(path: str, smollm2_path, llama_server: str | None, proxy: str | None) -> str:
    """The spec a user would type for each path (the in-process one names llama.cpp's
    function-calling chat format, which the server above is started with too)."""
    if path == "llama.cpp server":
        return f"openai_compat:smollm2@{llama_server}"
    if path == "LiteLLM → llama.cpp":
        return f"openai_compat:smollm2@{proxy}/v1"
    return f"llamacpp:{smollm2_path}#chatml-function-calling"


def build(spec: str, monkeypatch, tool_choice: str = ""):
    config = replace(parse_spec(spec), tool_choice=tool_choice)
    if config.kind == "llamacpp":
        return LlamaCppBackend.from_config(config)
    # LiteLLM wants its master key; llama.cpp's server, started without one, ignores it.
    monkeypatch.setenv("INTEROP_LITELLM_KEY", MASTER_KEY)
    return OpenAICompatBackend.from_config(
        replace(config, api_key_env="INTEROP_LITELLM_KEY", timeouts=SLOW)
    )


@pytest.fixture(params=["llama.cpp server", "LiteLLM → llama.cpp", "in-process"])
def smollm2(request, smollm2_path, llama_cpp_installed, monkeypatch):
    """(path, make): `make(tool_choice)` builds a backend for that path."""
    server = proxy = None
    if request.param != "in-process":
        server = request.getfixturevalue("llama_server")
    if "LiteLLM" in request.param:
        proxy = request.getfixturevalue("litellm_proxy")
    spec = spec_for(request.param, smollm2_path, server, proxy)
    yield request.param, lambda tool_choice="": build(spec, monkeypatch, tool_choice)


async def test_agent_round_trip_streams_counts_usage_and_runs_recovery(smollm2):
    path, make = smollm2
    backend = make()
    agent = Agent(
        backend=backend,
        tools=ToolSet.of([Tool.from_function(create_task)]),
        settings=ModelSettings(temperature=0.0, max_tokens=48),
        max_steps=2,
    )
    messages = [Message(role="user", content="Add a task: buy milk")]
    events = [e async for e in agent.run(messages, run_id=uuid.uuid4().hex)]
    await backend.aclose()
    assert not [e for e in events if e.type == "error" and e.payload.kind != "step_limit"]
    responses = [e for e in events if e.type == "model_response"]
    assert responses, path
    first = responses[0].payload
    assert first.input_tokens > 0 and first.output_tokens > 0
    assert first.ttft_ms is not None
    # Recovery ran: either the text held a tool call (then it was executed) or it did not.
    calls = [e for e in events if e.type == "tool_call"]
    results = [e for e in events if e.type == "tool_result"]
    assert len(calls) == len(results)
    assert first.recovered is bool(first.tool_calls) or not first.tool_calls
    assert events[-1].type == "run_finished"


async def test_a_forced_create_task_is_a_real_call_that_runs_and_is_answered(smollm2):
    path, make = smollm2
    backend = make("create_task")
    created: list[dict] = []

    def create_task(title: str, priority: Literal["low", "medium", "high"] = "medium") -> dict:
        """Create a task for the user."""
        created.append({"title": title, "priority": priority})
        return {"id": len(created), "title": title, "priority": priority}

    def list_tasks() -> list[dict]:
        """List the user's tasks."""
        return created

    agent = Agent(
        backend=backend,
        tools=ToolSet.of([Tool.from_function(create_task), Tool.from_function(list_tasks)]),
        settings=ModelSettings(temperature=0.0, max_tokens=48),
        max_steps=3,
    )
    messages = [Message(role="user", content="Create a high priority task to call the plumber")]
    events = [e async for e in agent.run(messages, run_id=uuid.uuid4().hex)]
    await backend.aclose()
    types = [e.type for e in events]
    calls = [e.payload for e in events if e.type == "tool_call"]
    assert calls and calls[0].name == "create_task", (path, types)
    assert calls[0].recovered is False, "a native call, not text"
    result = next(e.payload for e in events if e.type == "tool_result")
    assert not result.error and not result.invalid, result
    assert created and created[0]["title"].strip(), created
    assert types.index("tool_result") < types.index("final")
    assert events[-1].payload.status == "completed"
    assert events[-1].payload.model_calls == 2, "the choice was forced on the first round only"
    print(f"\n[{path}] forced call: {calls[0].arguments}")


async def test_probe_measures_latency_and_speed(smollm2):
    path, make = smollm2
    backend = make()
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
