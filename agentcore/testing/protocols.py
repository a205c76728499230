"""Pure rendering of scripted answers in the Ollama and OpenAI wire formats.

The ScriptedServer turns a `Turn` into chunks (the ScriptedBackend's `turn_chunks`), then
these functions into the exact bytes each protocol sends; they also read requests back into
a `ModelRequest`, so a scripted responder sees the same thing at both levels.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from ..backends.base import Chunk, ModelRequest, ModelSettings, TextDelta, ToolCallChunk, UsageChunk
from ..compat import UTC
from ..messages import Message, ToolCall
from ..pricing import estimate_tokens
from ..toolcall_parsing import parse_arguments
from ..tools import ToolSpec

Protocol = Literal["ollama", "openai"]
_NS_KEYS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


def protocol_of(path: str) -> Protocol:
    return "ollama" if path.startswith("/api/") else "openai"


def _message_from_wire(data: Mapping[str, Any]) -> Message:
    calls = []
    for i, raw in enumerate(data.get("tool_calls") or []):
        function = raw.get("function") or {}
        calls.append(
            ToolCall(
                id=str(raw.get("id") or f"call_{i}"),
                name=str(function.get("name", "")),
                arguments=parse_arguments(function.get("arguments")) or {},
            )
        )
    return Message(
        role=data.get("role", "user"),
        content=data.get("content") or "",
        tool_calls=tuple(calls),
        tool_call_id=data.get("tool_call_id"),
        name=data.get("tool_name") or data.get("name"),
    )


def model_request_from_wire(path: str, body: Mapping[str, Any]) -> ModelRequest:
    """What the backend under test sent, as the `ModelRequest` a responder receives."""
    options = body.get("options") or {}
    settings = ModelSettings(
        temperature=body.get("temperature", options.get("temperature")),
        max_tokens=body.get("max_tokens", options.get("num_predict")),
        num_ctx=options.get("num_ctx"),
    )
    if path == "/api/generate":
        messages = [Message(role="user", content=str(body.get("prompt", "")))]
    else:
        messages = [_message_from_wire(m) for m in body.get("messages") or []]
    tools = [
        ToolSpec(
            name=t["function"]["name"],
            description=t["function"].get("description", ""),
            parameters=t["function"].get("parameters", {}),
        )
        for t in body.get("tools") or []
    ]
    return ModelRequest(messages=messages, tools=tools, settings=settings)


def calls_as_text(chunks: Sequence[Chunk]) -> list[Chunk]:
    """The `tool_call_in_text` fault: native calls become JSON written in the text."""
    return [
        TextDelta(json.dumps({"name": c.call.name, "arguments": c.call.arguments}))
        if isinstance(c, ToolCallChunk)
        else c
        for c in chunks
    ]


def usage_for(request: ModelRequest, chunks: Sequence[Chunk]) -> UsageChunk:
    """The turn's own UsageChunk if it has one, else an estimate from the text."""
    for chunk in chunks:
        if isinstance(chunk, UsageChunk):
            return chunk
    prompt = sum(estimate_tokens(m.content) for m in request.messages)
    output = sum(estimate_tokens(c.text) for c in chunks if isinstance(c, TextDelta))
    output += sum(
        estimate_tokens(json.dumps(c.call.arguments))
        for c in chunks
        if isinstance(c, ToolCallChunk)
    )
    return UsageChunk(prompt, output)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _ndjson(value: Any) -> bytes:
    return json.dumps(value).encode() + b"\n"


def ollama_lines(
    chunks: Sequence[Chunk],
    *,
    model: str,
    generate: bool,
    usage: UsageChunk | None,
    elapsed: float,
) -> list[bytes]:
    """NDJSON lines of `/api/chat` (or `/api/generate`) ending with the `done` line."""
    lines = []
    calls = itertools.count()
    for chunk in chunks:
        if isinstance(chunk, TextDelta):
            part: dict[str, Any] = (
                {"response": chunk.text}
                if generate
                else {"message": {"role": "assistant", "content": chunk.text}}
            )
        elif isinstance(chunk, ToolCallChunk) and not generate:
            call = chunk.call
            part = {
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": call.id,
                            "function": {
                                "index": next(calls),
                                "name": call.name,
                                "arguments": call.arguments,
                            },
                        }
                    ],
                }
            }
        else:
            continue
        lines.append(_ndjson({"model": model, "created_at": _now(), **part, "done": False}))
    final: dict[str, Any] = {"model": model, "created_at": _now()}
    final.update(
        {"response": ""} if generate else {"message": {"role": "assistant", "content": ""}}
    )
    final.update(done=True, done_reason="stop")
    if usage is not None:
        ns = max(int(elapsed * 1e9), 1_000_000)
        final.update(
            total_duration=ns,
            load_duration=ns // 10,
            prompt_eval_duration=ns // 5,
            eval_duration=ns // 2,
        )
        final.update({k: int(v) for k, v in usage.details.items() if k in _NS_KEYS})
        final.update(prompt_eval_count=usage.input_tokens, eval_count=usage.output_tokens)
    lines.append(_ndjson(final))
    return lines


def ollama_whole(lines: Sequence[bytes]) -> dict[str, Any]:
    """The single object Ollama sends for `stream: false`: the lines merged."""
    parts = [json.loads(line) for line in lines]
    whole: dict[str, Any] = parts[-1]
    if "message" in whole:
        messages = [p["message"] for p in parts]
        calls = [c for m in messages for c in m.get("tool_calls", [])]
        whole["message"] = {"role": "assistant", "content": "".join(m["content"] for m in messages)}
        if calls:
            whole["message"]["tool_calls"] = calls
    else:
        whole["response"] = "".join(p["response"] for p in parts)
    return whole


def _usage_block(usage: UsageChunk) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _envelope(model: str, obj: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": obj,
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "scripted",
        "choices": choices,
    }


def openai_sse(
    chunks: Sequence[Chunk], *, model: str, usage: UsageChunk | None, include_usage: bool
) -> list[bytes]:
    """SSE events of a streamed completion: role, content, tool-call deltas, usage, [DONE]."""

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return (
            b"data: "
            + json.dumps(_envelope(model, "chat.completion.chunk", [choice])).encode()
            + b"\n\n"
        )

    events = [event({"role": "assistant", "content": ""})]
    index = 0
    for chunk in chunks:
        if isinstance(chunk, TextDelta):
            events.append(event({"content": chunk.text}))
        elif isinstance(chunk, ToolCallChunk):
            call = chunk.call
            head = {"index": index, "id": call.id, "type": "function"}
            events.append(
                event({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
            )
            args = json.dumps(call.arguments)
            cut = len(args) // 2
            for fragment in (args[:cut], args[cut:]):
                events.append(
                    event({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
                )
            index += 1
    events.append(event({}, "tool_calls" if index else "stop"))
    if include_usage and usage is not None:
        tail = _envelope(model, "chat.completion.chunk", []) | {"usage": _usage_block(usage)}
        events.append(b"data: " + json.dumps(tail).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def openai_completion(
    chunks: Sequence[Chunk], *, model: str, usage: UsageChunk | None
) -> dict[str, Any]:
    """A non-streamed `chat.completion` object."""
    text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
    calls = [
        {
            "id": c.call.id,
            "type": "function",
            "function": {"name": c.call.name, "arguments": json.dumps(c.call.arguments)},
        }
        for c in chunks
        if isinstance(c, ToolCallChunk)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "tool_calls" if calls else "stop",
    }
    body = _envelope(model, "chat.completion", [choice])
    if usage is not None:
        body["usage"] = _usage_block(usage)
    return body


def error_body(protocol: Protocol, status: int, message: str) -> dict[str, Any]:
    if protocol == "ollama":
        return {"error": message}
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def tags_body(models: Sequence[str]) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": name,
                "model": name,
                "modified_at": _now(),
                "size": 91_000_000,
                "digest": "0" * 64,
                "details": {
                    "parent_model": "",
                    "format": "gguf",
                    "family": "llama",
                    "families": ["llama"],
                    "parameter_size": "135M",
                    "quantization_level": "Q4_1",
                },
            }
            for name in models
        ]
    }


def models_body(models: Sequence[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in models
        ],
    }
