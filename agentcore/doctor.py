"""Probe logic behind `agent_doctor`: is a backend usable, and which integration pattern fits.

Django-free so it can be tested against the ScriptedServer and reused by scripts. Each probe
answers one question a person setting up a fine-tuned model asks, in order: can I reach the
server, does it have my model, does the model call tools, and how fast is it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from .backends.base import (
    Backend,
    ModelRequest,
    ModelSettings,
    TextDelta,
    ToolCallChunk,
    UsageChunk,
)
from .errors import AgentCoreError, BackendUnavailable, ModelNotFound
from .messages import Message
from .specs import BackendConfig
from .toolcall_parsing import parse_tool_calls
from .tools import ToolSpec

Pattern = Literal["direct", "proxy", "cloud endpoint"]
PROBE_TOOL = ToolSpec(
    name="create_task",
    description="Create a task for the user.",
    parameters={
        "type": "object",
        "properties": {"title": {"type": "string", "description": "Short task title"}},
        "required": ["title"],
    },
)
PROBE_MESSAGES = (
    Message(role="system", content="You manage tasks. Always use the create_task tool."),
    Message(role="user", content="Add a task: buy milk"),
)


@runtime_checkable
class ModelChecker(Protocol):
    async def check_model(self) -> None: ...


@dataclass(kw_only=True)
class ProbeResult:
    backend: str
    reachable: bool | None = None
    """None when the backend has nothing to reach (built-in engine)."""
    model_present: bool | None = None
    tool_call: Literal["native", "recovered", "none"] | None = None
    ttft_s: float | None = None
    total_s: float | None = None
    output_tokens: int = 0
    tokens_per_second: float | None = None
    tokens_estimated: bool = False
    rate_includes_prompt: bool = False
    """The answer arrived whole (a tool call is sent once complete), so tokens/second is taken
    over the total time, prompt processing included: a lower bound."""
    tool_choice: str = ""
    """The backend's forced tool_choice, if any: a forced call is not the model's own choice."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def probe(backend: Backend, *, max_tokens: int = 96, tool_choice: str = "") -> ProbeResult:
    """Run the doctor's checks against one backend; never raises for a backend's failure.

    `tool_choice` is the one the backend was configured with (it applies it itself); it is
    recorded so the report can say a call was forced.
    """
    result = ProbeResult(backend=backend.info.name, tool_choice=tool_choice)
    if isinstance(backend, ModelChecker):
        try:
            await backend.check_model()
            result.reachable = result.model_present = True
        except ModelNotFound as exc:
            result.reachable, result.model_present = True, False
            result.problems.append(str(exc))
            return result
        except BackendUnavailable as exc:
            result.reachable = False
            result.problems.append(str(exc))
            return result
        except AgentCoreError as exc:
            result.problems.append(str(exc))
            return result
    request = ModelRequest(
        messages=PROBE_MESSAGES,
        tools=[PROBE_TOOL],
        settings=ModelSettings(temperature=0.0, max_tokens=max_tokens),
    )
    started = time.perf_counter()
    text, native, usage = "", False, None
    try:
        async for chunk in backend.stream(request):
            if isinstance(chunk, TextDelta | ToolCallChunk) and result.ttft_s is None:
                result.ttft_s = time.perf_counter() - started
            if isinstance(chunk, TextDelta):
                text += chunk.text
            elif isinstance(chunk, ToolCallChunk):
                native = True
            elif isinstance(chunk, UsageChunk):
                usage = chunk
    except AgentCoreError as exc:
        result.reachable = result.reachable if result.reachable is not None else False
        result.problems.append(str(exc))
        return result
    result.total_s = time.perf_counter() - started
    result.reachable = True if result.reachable is None else result.reachable
    if native:
        result.tool_call = "native"
    elif parse_tool_calls(text, {PROBE_TOOL.name}):
        result.tool_call = "recovered"
    else:
        result.tool_call = "none"
        result.problems.append("the model answered in text and called no tool")
    if usage is not None:
        result.output_tokens, result.tokens_estimated = usage.output_tokens, usage.estimated
        generating = result.total_s - (result.ttft_s or 0.0)
        if not text:  # only whole tool calls came: nothing streamed to time generation by
            generating, result.rate_includes_prompt = result.total_s, True
        if usage.output_tokens and generating > 0:
            result.tokens_per_second = round(usage.output_tokens / generating, 1)
    return result


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    pattern: Pattern
    reason: str


def recommend_pattern(
    configs: Sequence[BackendConfig],
    *,
    clients: int = 1,
    needs_sdk_compatibility: bool = False,
) -> Recommendation:
    """Which way to wire the model in: direct, through a proxy, or a hosted endpoint.

    Local development with one model talks to it directly (fewest moving parts). Several
    models, or tools that expect the OpenAI SDK, call for a proxy such as LiteLLM in front.
    Many clients at once, or a cloud backend already in the route, call for a scalable
    endpoint (vLLM, a managed API) rather than a single local server.
    """
    models = {(c.kind, c.model) for c in configs if c.kind != "builtin"}
    if clients > 4 or any(c.resolved_locality == "cloud" for c in configs):
        why = f"{clients} concurrent clients" if clients > 4 else "the route already uses a cloud"
        return Recommendation(
            pattern="cloud endpoint",
            reason=f"{why}: serve the model from a scalable endpoint (vLLM or a managed API)",
        )
    if needs_sdk_compatibility or len(models) > 1:
        why = "OpenAI SDK compatibility" if needs_sdk_compatibility else f"{len(models)} models"
        return Recommendation(
            pattern="proxy",
            reason=f"{why}: put a proxy (LiteLLM) in front and point openai_compat at it",
        )
    return Recommendation(
        pattern="direct",
        reason="one local model for development: talk to Ollama or the GGUF directly",
    )
