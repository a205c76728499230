"""OpenAI-compatible chat completions: OpenAI, LiteLLM, vLLM, llama.cpp's server, and kin.

Streams `/v1/chat/completions` over SSE with `stream_options.include_usage`. Some servers
(llama-cpp-python's with `chatml-function-calling`) answer a streamed tool request with an
empty or unterminated stream; then, and only if nothing was yielded yet, the call is made once
more with `stream=false`, and a `stream_retry` notice says so in the trace.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ..errors import BackendHTTPError, BackendProtocolError, ModelNotFound
from ..specs import BackendConfig
from ._http import HttpEdge, SSEEvent, SSEParser
from .base import AnswerBudget, Backend, Chunk, ModelRequest, NoticeChunk, decode_batch
from .wire import StreamDecoder, chat_body, completion_chunks, info_from_config


class OpenAICompatBackend(Backend):
    """A model behind any `/v1/chat/completions` endpoint; the key comes from an env var."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.info = info_from_config(config)
        self.http = HttpEdge(config, not_found_hint=self._not_found_hint)

    @classmethod
    def from_config(cls, config: BackendConfig) -> OpenAICompatBackend:
        return cls(config)

    def _not_found_hint(self) -> str:
        return f"the server has no model {self.config.model!r}; GET /v1/models lists its models"

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        body = self._body(request, stream=True)
        try:
            async for chunk in self._answer(request, body):
                yield chunk
        except BackendHTTPError as exc:
            if exc.status >= 500 and body.get("tool_choice") == "required":
                raise self._required_unsupported(exc) from exc
            raise

    def _feed(
        self, decoder: StreamDecoder, events: Iterable[SSEEvent | None], chunks: list[Chunk]
    ) -> bool:
        """Decode events into `chunks` up to `[DONE]`; say whether `[DONE]` came."""
        for event in events:
            if event is None:
                continue
            if event.data.strip() == "[DONE]":
                return True
            chunks.extend(decoder.feed(self._decode(event.data)))
        return False

    async def _answer(self, request: ModelRequest, body: dict[str, Any]) -> AsyncIterator[Chunk]:
        decoder = StreamDecoder()
        done = False
        sse = SSEParser()
        budget = AnswerBudget(request.settings.max_answer_chars)
        stream = self.http.stream_lines("/chat/completions", body, answer_chars=budget.limit)
        async with stream as batches:
            async for lines in batches:
                feed = functools.partial(self._feed, decoder, map(sse.feed, lines))
                chunks, done, error = decode_batch(feed, budget)
                for chunk in chunks:
                    yield chunk
                if error is not None:
                    raise error
                if done:
                    break
            else:  # the stream ended; an event without its closing blank line still counts
                last: list[Chunk] = []
                done = self._feed(decoder, [sse.flush()], last)
                for chunk in last:
                    yield chunk
        if decoder.produced_output and (done or decoder.finish_reason):
            for chunk in budget.take(decoder.finish(request)):
                yield chunk
            return
        if decoder.text:
            raise BackendProtocolError(
                f"{self.info.name}: stream ended before the answer was complete",
                backend=self.info.name,
            )
        reason = self._retry_reason(decoder, done)
        yield NoticeChunk(
            notice="stream_retry",
            backend=self.info,
            reason=reason,
            data={"chunks": decoder.chunks_seen},
        )
        answer = await self.http.request_json(
            "POST", "/chat/completions", self._body(request, stream=False)
        )
        if not isinstance(answer, dict):
            raise BackendProtocolError(
                f"{self.info.name}: answer is not a JSON object", backend=self.info.name
            )
        self._raise_embedded_error(answer)
        for chunk in budget.take(completion_chunks(answer, request)):
            yield chunk

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        return chat_body(
            request,
            model=self.config.model,
            stream=stream,
            tool_choice=self.config.tool_choice,
            backend=self.info.name,
        )

    @staticmethod
    def _required_unsupported(exc: BackendHTTPError) -> BackendHTTPError:
        """llama-cpp-python's server answers `tool_choice=required` with a bare 500; say so,
        and do not retry a request that will fail the same way."""
        error = BackendHTTPError(
            f"{exc} (the server may not support tool_choice=required, llama-cpp-python's does "
            "not; name a tool instead, e.g. #tool_choice=create_task)",
            status=exc.status,
            backend=exc.backend,
        )
        error.retryable = False
        return error

    @staticmethod
    def _retry_reason(decoder: StreamDecoder, done: bool) -> str:
        if decoder.chunks_seen == 0:
            return "empty stream; retrying without streaming"
        if decoder.partials:
            return "stream ended inside a tool call; retrying without streaming"
        if not done and not decoder.finish_reason:
            return "unterminated stream with no content; retrying without streaming"
        return "stream carried no content; retrying without streaming"

    def _decode(self, data: str) -> dict[str, Any]:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):  # nested past the recursion limit: not an answer
            raise BackendProtocolError(
                f"{self.info.name}: malformed JSON in SSE stream: {data[:120]!r}",
                backend=self.info.name,
            ) from None
        if not isinstance(value, dict):
            raise BackendProtocolError(
                f"{self.info.name}: SSE data is not an object", backend=self.info.name
            )
        self._raise_embedded_error(value)
        return value

    def _raise_embedded_error(self, value: dict[str, Any]) -> None:
        error = value.get("error")
        if error:
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise self.http.stream_error(message)

    async def list_models(self) -> list[str]:
        answer = await self.http.request_json("GET", "/models")
        data = answer.get("data", []) if isinstance(answer, dict) else []
        return [str(m.get("id")) for m in data if isinstance(m, dict)]

    async def check_model(self) -> None:
        """Raise `ModelNotFound` unless `/v1/models` lists the model (an empty list passes)."""
        models = await self.list_models()
        if models and self.config.model not in models:
            raise ModelNotFound(
                f"{self.info.name}: model {self.config.model!r} is not served here; "
                f"available: {', '.join(models[:10])}",
                backend=self.info.name,
            )

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["OpenAICompatBackend"]
