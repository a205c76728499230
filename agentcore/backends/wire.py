"""Pure conversions between agentcore records and the OpenAI chat-completions wire shape.

Shared by `openai_compat` (SSE over HTTP) and `llamacpp` (llama-cpp-python yields the same
chunk dicts in-process), so tool-call delta assembly and usage accounting exist once. No I/O
here: every function takes dicts and returns records, which keeps them easy to test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import BackendMisconfigured
from ..messages import Message, ToolCall
from ..pricing import estimate_tokens
from ..specs import BackendConfig
from ..toolcall_parsing import parse_arguments
from ..tools import ToolSpec
from .base import BackendInfo, Chunk, ModelRequest, TextDelta, ToolCallChunk, UsageChunk


def info_from_config(config: BackendConfig) -> BackendInfo:
    """The identity a backend built from `config` shows in the trace and stats."""
    return BackendInfo(
        name=config.name or config.spec(),
        kind=config.kind,
        model=config.model,
        locality=config.resolved_locality,
        price_in_per_mtok=config.price_in_per_mtok,
        price_out_per_mtok=config.price_out_per_mtok,
    )


def message_to_openai(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    if message.role == "tool":
        data["tool_call_id"] = message.tool_call_id or ""
        if message.name:
            data["name"] = message.name
    return data


def chat_body(
    request: ModelRequest, *, model: str, stream: bool, tool_choice: str = "", backend: str = ""
) -> dict[str, Any]:
    """The `/v1/chat/completions` body (also the kwargs of llama-cpp-python's call)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [message_to_openai(m) for m in request.messages],
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if request.tools:
        body["tools"] = tools_to_openai(request.tools)
        if (choice := tool_choice_for(request, tool_choice, backend=backend)) is not None:
            body["tool_choice"] = choice
    settings = request.settings
    if settings.temperature is not None:
        body["temperature"] = settings.temperature
    if settings.max_tokens is not None:
        body["max_tokens"] = settings.max_tokens
    return body


def tool_choice_for(
    request: ModelRequest, choice: str, *, backend: str = ""
) -> str | dict[str, Any] | None:
    """The `tool_choice` to send, or None for the server's default (auto).

    A forced choice (`required` or a tool name) holds only until the turn's first tool result,
    as openai-agents' `reset_tool_choice` does: forcing it on every round would keep the model
    calling tools forever instead of answering with what they returned.
    """
    if not choice or choice == "auto":
        return None
    if choice == "none":
        return "none"
    if _turn_has_tool_result(request.messages):
        return None
    if choice == "required":
        return "required"
    names = [tool.name for tool in request.tools]
    if choice not in names:
        raise BackendMisconfigured(
            f"{backend}: tool_choice {choice!r} names no tool here; tools: {', '.join(names)}",
            backend=backend,
        )
    return {"type": "function", "function": {"name": choice}}


def _turn_has_tool_result(messages: Sequence[Message]) -> bool:
    for message in reversed(messages):
        if message.role == "tool":
            return True
        if message.role == "user":
            return False
    return False


def tools_to_openai(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [tool.to_openai() for tool in tools]


@dataclass(frozen=True)
class PartialCall:
    """A tool call still arriving: id and name come first, argument text in fragments."""

    id: str = ""
    name: str = ""
    arguments: str = ""


def apply_tool_call_deltas(
    partials: Mapping[int, PartialCall], deltas: Sequence[Mapping[str, Any]]
) -> dict[int, PartialCall]:
    """Fold streamed `tool_calls` deltas into partial calls keyed by their `index`."""
    merged = dict(partials)
    for position, delta in enumerate(deltas):
        index = delta.get("index", position)
        index = index if isinstance(index, int) else position
        current = merged.get(index, PartialCall())
        function = delta.get("function") or {}
        fragment = function.get("arguments")
        if isinstance(fragment, dict):  # some servers send the object whole
            fragment = json.dumps(fragment)
        merged[index] = replace(
            current,
            id=current.id or str(delta.get("id") or ""),
            name=current.name or str(function.get("name") or ""),
            arguments=current.arguments + (fragment or ""),
        )
    return merged


def finish_tool_calls(
    partials: Mapping[int, PartialCall], *, prefix: str = "call"
) -> list[ToolCall]:
    """Complete calls in index order; unparseable arguments go to the model as data."""
    calls = []
    for index in sorted(partials):
        part = partials[index]
        if not part.name:
            continue
        arguments = parse_arguments(part.arguments)
        if arguments is None:
            arguments = {"_unparsed_arguments": part.arguments}
        calls.append(
            ToolCall(id=part.id or f"{prefix}_{index}", name=part.name, arguments=arguments)
        )
    return calls


def tool_calls_from_message(message: Mapping[str, Any]) -> list[ToolCall]:
    """Tool calls of a non-streamed `choices[0].message`."""
    raw = message.get("tool_calls") or []
    return finish_tool_calls(apply_tool_call_deltas({}, raw))


def usage_from_openai(usage: Mapping[str, Any]) -> UsageChunk:
    details = {
        key: value
        for key in ("prompt_tokens_details", "completion_tokens_details")
        if (value := usage.get(key))
    }
    return UsageChunk(
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        details=details,
    )


def estimate_usage(request: ModelRequest, text: str, calls: Sequence[ToolCall]) -> UsageChunk:
    """Rough usage for servers that report none, marked `estimated` so stats can say so."""
    prompt = sum(estimate_tokens(m.content) for m in request.messages)
    prompt += sum(estimate_tokens(json.dumps(t.parameters)) for t in request.tools)
    output = estimate_tokens(text) + sum(estimate_tokens(json.dumps(c.arguments)) for c in calls)
    return UsageChunk(prompt, output, estimated=True)


@dataclass
class StreamDecoder:
    """Turns OpenAI `chat.completion.chunk` dicts into agentcore chunks.

    Text is passed on at once; tool calls are held until complete (their arguments arrive
    in fragments) and released by `finish()`, together with the usage.
    """

    partials: dict[int, PartialCall] = field(default_factory=dict)
    text: str = ""
    usage: UsageChunk | None = None
    finish_reason: str | None = None
    chunks_seen: int = 0

    def feed(self, data: Mapping[str, Any]) -> list[Chunk]:
        self.chunks_seen += 1
        out: list[Chunk] = []
        if isinstance(data.get("usage"), dict):
            self.usage = usage_from_openai(data["usage"])
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            content = delta.get("content")
            if content:
                self.text += content
                out.append(TextDelta(content))
            if delta.get("tool_calls"):
                self.partials = apply_tool_call_deltas(self.partials, delta["tool_calls"])
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    @property
    def produced_output(self) -> bool:
        return bool(self.text or self.partials)

    def finish(self, request: ModelRequest) -> list[Chunk]:
        calls = finish_tool_calls(self.partials)
        usage = self.usage or estimate_usage(request, self.text, calls)
        return [*(ToolCallChunk(call) for call in calls), usage]


def completion_chunks(data: Mapping[str, Any], request: ModelRequest) -> list[Chunk]:
    """All chunks of a non-streamed completion (the stream=false fallback)."""
    decoder = StreamDecoder()
    return [*decoder.feed(data), *decoder.finish(request)]


def render_chatml(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> str:
    """A ChatML prompt for models served without a chat template (Ollama's generate mode).

    Tools are described in the system turn with the text format the loop recovers
    (`<tool_call>{"name": ..., "arguments": ...}</tool_call>`); earlier calls and their
    results are written back the same way, so the model sees one consistent convention.
    """
    parts = []
    tool_text = ""
    if tools:
        listing = "\n".join(json.dumps(t.to_openai()["function"]) for t in tools)
        tool_text = (
            "\n\nYou can call these tools:\n"
            f"{listing}\n"
            'To call one, answer only with <tool_call>{"name": ..., "arguments": {...}}'
            "</tool_call>."
        )
    has_system = any(m.role == "system" for m in messages)
    if tools and not has_system:
        parts.append(f"<|im_start|>system{tool_text}<|im_end|>")
    for m in messages:
        content = m.content
        if m.role == "system":
            content += tool_text
        if m.tool_calls:
            content += "".join(
                "<tool_call>"
                + json.dumps({"name": c.name, "arguments": c.arguments})
                + "</tool_call>"
                for c in m.tool_calls
            )
        parts.append(f"<|im_start|>{m.role}\n{content}<|im_end|>")
    parts.append("<|im_start|>assistant\n")
    return "\n".join(parts)
