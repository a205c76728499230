"""Ollama's native API: `/api/chat` with tools, NDJSON streaming, `/api/tags` model check.

The native API (rather than Ollama's OpenAI shim) is used because it reports what the stats
page needs: prompt and output token counts and the server's own durations (in nanoseconds,
converted to seconds here), and it honours `keep_alive` so a fine-tuned model stays loaded.

Models served without a chat template (a raw fine-tune imported with a bare `FROM`) get
gibberish from `/api/chat`. For them, generate mode renders the conversation as ChatML
itself and calls `/api/generate` with `raw: true`; tool calls then come back as text and the
loop recovers them. Choose it with a `#generate` suffix on the model
(`ollama:task-api-model#generate@http://localhost:11434`) or `OllamaBackend(config, mode=...)`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from ..errors import ModelNotFound
from ..messages import Message, ToolCall
from ..specs import BackendConfig
from ._http import HttpEdge, parse_ndjson
from .base import (
    AnswerBudget,
    Backend,
    Chunk,
    ModelRequest,
    TextDelta,
    ToolCallChunk,
    UsageChunk,
    decode_batch,
)
from .wire import info_from_config, render_chatml

Mode = Literal["chat", "generate"]
_DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


def message_to_ollama(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [
            {"id": c.id, "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.role == "tool" and message.name:
        data["tool_name"] = message.name
    return data


def usage_from_ollama(final: dict[str, Any]) -> UsageChunk:
    """Token counts from the `done` line; durations turned from nanoseconds into seconds."""
    details: dict[str, Any] = {
        key.replace("_duration", "_s"): final[key] / 1e9
        for key in _DURATIONS
        if isinstance(final.get(key), int | float)
    }
    output = int(final.get("eval_count") or 0)
    if output and details.get("eval_s"):
        details["tokens_per_second"] = round(output / details["eval_s"], 2)
    if final.get("done_reason"):
        details["done_reason"] = final["done_reason"]
    return UsageChunk(int(final.get("prompt_eval_count") or 0), output, details=details)


def tool_calls_from_ollama(message: dict[str, Any]) -> list[ToolCall]:
    calls = []
    for raw in message.get("tool_calls") or []:
        function = raw.get("function") or {}
        arguments = function.get("arguments")
        calls.append(
            ToolCall(
                id=str(raw.get("id") or f"call_{uuid.uuid4().hex[:12]}"),
                name=str(function.get("name") or ""),
                arguments=arguments if isinstance(arguments, dict) else {},
            )
        )
    return calls


class OllamaBackend(Backend):
    """A model served by Ollama, streamed through its native API."""

    def __init__(self, config: BackendConfig, *, mode: Mode | None = None) -> None:
        model, _, suffix = config.model.partition("#")
        self.mode: Mode = mode or ("generate" if suffix == "generate" else "chat")
        self.model = model
        self.config = config
        self.info = info_from_config(config)
        self.http = HttpEdge(config, not_found_hint=self.install_hint)

    @classmethod
    def from_config(cls, config: BackendConfig) -> OllamaBackend:
        return cls(config)

    def install_hint(self) -> str:
        return (
            f"run `ollama pull {self.model}`, or for a local fine-tune "
            f"`ollama create {self.model} -f Modelfile`"
        )

    def _options(self, request: ModelRequest) -> dict[str, Any]:
        s = request.settings
        options = {"temperature": s.temperature, "num_ctx": s.num_ctx, "num_predict": s.max_tokens}
        return {k: v for k, v in options.items() if v is not None}

    def _body(self, request: ModelRequest) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "stream": True}
        if self.mode == "generate":
            body.update(prompt=render_chatml(request.messages, request.tools), raw=True)
            body["options"] = {**self._options(request), "stop": ["<|im_end|>"]}
            path = "/api/generate"
        else:
            body["messages"] = [message_to_ollama(m) for m in request.messages]
            if request.tools:
                body["tools"] = [t.to_openai() for t in request.tools]
            if options := self._options(request):
                body["options"] = options
            path = "/api/chat"
        if self.config.keep_alive is not None:
            body["keep_alive"] = self.config.keep_alive
        return path, body

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        path, body = self._body(request)
        budget = AnswerBudget(request.settings.max_answer_chars)
        async with self.http.stream_lines(path, body, answer_chars=budget.limit) as batches:
            async for lines in batches:
                chunks, done, error = decode_batch(functools.partial(self._feed, lines), budget)
                for chunk in chunks:
                    yield chunk
                if error is not None:
                    raise error
                if done:
                    return
        raise self.http.stream_error("stream ended without its final `done` line")

    def _feed(self, lines: list[str], chunks: list[Chunk]) -> bool:
        """Decode NDJSON lines into `chunks` up to the `done` one; say whether it came."""
        for line in lines:
            data = parse_ndjson(line, backend=self.info.name)
            if data is None:
                continue
            if not isinstance(data, dict):
                raise self.http.stream_error(f"stream line is not an object: {data!r}")
            if data.get("error"):
                raise self.http.stream_error(str(data["error"]))
            message = data.get("message") or {}
            text = message.get("content") if self.mode == "chat" else data.get("response")
            if text:
                chunks.append(TextDelta(text))
            chunks.extend(ToolCallChunk(call) for call in tool_calls_from_ollama(message))
            if data.get("done"):
                chunks.append(usage_from_ollama(data))
                return True
        return False

    async def list_models(self) -> list[str]:
        answer = await self.http.request_json("GET", "/api/tags")
        models = answer.get("models", []) if isinstance(answer, dict) else []
        return [str(m.get("name") or m.get("model")) for m in models if isinstance(m, dict)]

    async def check_model(self) -> None:
        """Raise `ModelNotFound` (with the command that fixes it) unless Ollama has the model."""
        names = await self.list_models()
        wanted = {self.model, f"{self.model}:latest"}
        if not wanted & set(names):
            raise ModelNotFound(
                f"{self.info.name}: Ollama at {self.config.base_url} has no model "
                f"{self.model!r}; {self.install_hint()}",
                backend=self.info.name,
            )

    async def aclose(self) -> None:
        await self.http.aclose()
