"""The one HTTP edge shared by the network backends (Ollama, OpenAI-compatible servers).

Everything that can go wrong on the wire is turned into the `errors.py` taxonomy here, once,
so backends only speak their protocol. The API key is read from its environment variable at
request time and sent per request: it never sits on the client, in a repr, an event or an
error message (`redact` scrubs it from server replies that echo it back).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import itertools
import json
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..compat import UTC, timeout
from ..errors import (
    AnswerTooLong,
    BackendError,
    BackendHTTPError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    ContextTooLong,
    ModelNotFound,
)
from ..specs import BackendConfig

BODY_CHARS_PER_ANSWER_CHAR = 64
"""A streamed body may be this many times the answer's character limit: the protocol's
framing (an SSE event of ~150 characters may carry one token) fits, a runaway server not."""
MAX_JSON_BYTES = 8 * 1024 * 1024
"""A non-streamed answer (or a model list) larger than this is refused, not read whole."""
MAX_ERROR_BYTES = 64 * 1024
"""Only the start of an error body is read: it is cut to 300 characters anyway."""
DRAIN_S = 0.05
"""How long a finished stream's leftover bytes may take before its connection is dropped."""
_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length|maximum context|context window|exceeds? the context|"
    r"too many tokens|n_ctx|prompt is too long|input is too long",
    re.IGNORECASE,
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_message(body: str) -> str:
    """The human part of an error body: Ollama's `{"error": str}`, OpenAI's nested object."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body.strip()[:300]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message") or err.get("code") or json.dumps(err)
        if err is not None:
            return str(err)[:300]
    return body.strip()[:300]


def error_for_status(
    status: int,
    message: str,
    *,
    backend: str,
    retry_after: float | None = None,
    not_found_hint: str = "",
) -> BackendError:
    """Map an HTTP error status (or an in-stream error) onto the taxonomy."""
    text = f"{backend}: HTTP {status}: {message}" if status else f"{backend}: {message}"
    if _CONTEXT_PATTERNS.search(message):
        return ContextTooLong(text, status=status or 400, backend=backend)
    if status == 404 and "model" in message.lower():
        hint = f" ({not_found_hint})" if not_found_hint else ""
        return ModelNotFound(f"{text}{hint}", backend=backend)
    if not status:
        return BackendProtocolError(text, backend=backend)
    return BackendHTTPError(text, status=status, retry_after=retry_after, backend=backend)


def parse_ndjson(line: str, *, backend: str = "") -> Any:
    """One line of newline-delimited JSON (Ollama's streaming format); None for a blank line."""
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise BackendProtocolError(
            f"{backend}: malformed JSON line in stream: {line[:120]!r}", backend=backend
        ) from None


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"


class SSEParser:
    """Server-sent events: `data:` lines joined until a blank line; comments ignored."""

    def __init__(self) -> None:
        self.data: list[str] = []
        self.event = "message"

    def feed(self, raw: str) -> SSEEvent | None:
        """Take one line; return the event it completes, if any."""
        line = raw.rstrip("\r\n")
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self.data.append(value)
        elif field == "event":
            self.event = value
        return None

    def flush(self) -> SSEEvent | None:
        """The pending event (a stream may end without the final blank line)."""
        event = SSEEvent("\n".join(self.data), self.event) if self.data else None
        self.data, self.event = [], "message"
        return event


POOL_SHARDS = 32
POOL_CONNECTIONS = 16
"""Per shard: up to 512 requests in flight per backend."""
POOL_KEEPALIVE = 16


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: each default one loads the CA bundle (~20 ms)."""
    return httpx.create_ssl_context()


class HttpEdge:
    """One pooled `httpx.AsyncClient` per backend, with timeouts and error mapping.

    Timeouts: `connect` bounds opening the connection; `first_token` bounds the wait for the
    response headers and its first line (a cold model may load first); `total` bounds the
    whole answer. Between lines the remaining total applies.
    """

    def __init__(
        self,
        config: BackendConfig,
        *,
        not_found_hint: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name or config.spec()
        self._not_found_hint = not_found_hint or (lambda: "")
        self._clients: list[httpx.AsyncClient] = []
        self._next = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<HttpEdge {self.name} {self.config.base_url}>"

    @property
    def client(self) -> httpx.AsyncClient:
        """The next of a few pooled clients, created on first use and kept.

        Many small pools instead of one big one: httpcore scans every pooled connection
        (a socket check each) whenever a request starts or ends, which made one 200-connection
        pool the main CPU cost at 200 concurrent conversations (44% of the server's time,
        py-spy); with 8 shards it still took 40% of the event loop, with 32 far less. They
        share one TLS context, so building them costs ~3 ms, not ~20 ms each. Rebuilt only if
        the event loop changed (tests).
        """
        loop = asyncio.get_running_loop()
        if not self._clients or self._loop is not loop:
            t = self.config.timeouts
            self._clients = [
                httpx.AsyncClient(
                    base_url=self.config.base_url,
                    verify=_ssl_context(),
                    timeout=httpx.Timeout(t.total, connect=t.connect, pool=t.connect),
                    limits=httpx.Limits(
                        max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_KEEPALIVE
                    ),
                )
                for _ in range(POOL_SHARDS)
            ]
            self._loop = loop
        return self._clients[next(self._next) % POOL_SHARDS]

    @property
    def pool(self) -> tuple[httpx.AsyncClient, ...]:
        """The clients made so far (they are made once, not per call)."""
        return tuple(self._clients)

    def _api_key(self) -> str:
        env = self.config.api_key_env
        return os.environ.get(env, "") if env else ""

    def headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def redact(self, text: str) -> str:
        key = self._api_key()
        return text.replace(key, "***") if key else text

    def _transport_error(self, exc: Exception, *, started: bool) -> BackendError:
        detail = self.redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
        t = self.config.timeouts
        if isinstance(exc, httpx.ConnectTimeout):
            return BackendTimeout(
                f"{self.name}: no connection within {t.connect}s", backend=self.name
            )
        if isinstance(exc, httpx.TimeoutException):
            return BackendTimeout(f"{self.name}: timed out ({detail})", backend=self.name)
        if started:
            return BackendProtocolError(
                f"{self.name}: stream broke off ({detail})", backend=self.name
            )
        return BackendUnavailable(
            f"{self.name}: cannot reach {self.config.base_url} ({detail})", backend=self.name
        )

    async def _read_capped(self, response: httpx.Response, limit: int) -> bytes | None:
        """The body, or None when it passes `limit` bytes (the rest is never read)."""
        parts: list[bytes] = []
        size = 0
        async for part in response.aiter_bytes():
            parts.append(part)
            size += len(part)
            if size > limit:
                return None
        return b"".join(parts)

    async def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        raw = await self._read_capped(response, MAX_ERROR_BYTES)
        body = (raw if raw is not None else b"(error body too large)").decode("utf-8", "replace")
        raise error_for_status(
            response.status_code,
            self.redact(error_message(body)),
            backend=self.name,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            not_found_hint=self._not_found_hint(),
        )

    def stream_error(self, message: str) -> BackendError:
        """An `{"error": ...}` sent inside a 200 stream, mapped like a status would be."""
        status = 404 if "not found" in message.lower() else 0
        return error_for_status(
            status,
            self.redact(message),
            backend=self.name,
            not_found_hint=self._not_found_hint(),
        )

    async def _deadline(self, awaitable: Any, seconds: float, what: str) -> Any:
        try:
            async with timeout(max(seconds, 0.001)):
                return await awaitable
        except TimeoutError:
            raise BackendTimeout(
                f"{self.name}: {what}", backend=self.name, waited_s=seconds
            ) from None

    async def request_json(self, method: str, path: str, body: Any = None) -> Any:
        """A non-streaming call; the whole answer must arrive within `first_token`+`total`."""
        t = self.config.timeouts
        request = self.client.build_request(method, path, json=body, headers=self.headers())
        try:
            response = await self._deadline(
                self.client.send(request), min(t.first_token, t.total), "no answer in time"
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=False) from None
        try:
            await self._raise_for_status(response)
            raw = await self._read_capped(response, MAX_JSON_BYTES)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=True) from None
        finally:
            await response.aclose()
        if raw is None:
            raise AnswerTooLong(
                f"{self.name}: answer over {MAX_JSON_BYTES} bytes", backend=self.name
            )
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise BackendProtocolError(
                f"{self.name}: malformed JSON answer: {raw[:120]!r}", backend=self.name
            ) from None

    @asynccontextmanager
    async def stream_lines(
        self, path: str, body: Any, *, answer_chars: int | None = None
    ) -> AsyncIterator[AsyncIterator[list[str]]]:
        """POST `body` and yield the answer's lines in batches, guarded by the timeouts.

        Leaving the block closes the response, so a cancelled run stops the server too. With
        `answer_chars`, a body past `BODY_CHARS_PER_ANSWER_CHAR` times it is an error: the
        backend's `AnswerBudget` cuts the answer's text long before, so only a stream of
        framing without content (or one endless line) gets here.
        """
        max_body = answer_chars * BODY_CHARS_PER_ANSWER_CHAR if answer_chars else None
        t = self.config.timeouts
        started = time.monotonic()
        request = self.client.build_request("POST", path, json=body, headers=self.headers())
        try:
            response: httpx.Response = await self._deadline(
                self.client.send(request, stream=True),
                min(t.first_token, t.total),
                f"no first byte within {min(t.first_token, t.total)}s",
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=False) from None
        try:
            await self._raise_for_status(response)
            batches = self._guard(response.aiter_text(), started, max_body)
            yield batches
            await self._drain(batches)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=True) from None
        finally:
            await response.aclose()

    async def _drain(self, lines: AsyncIterator[list[str]]) -> None:
        """Read what is left of a body the caller stopped reading (at `[DONE]`, `done: true`).

        Normally that is only the chunked terminator, already in the socket buffer. Without
        this, httpx closes an unfinished response's connection, and every call paid for a new
        one (a TCP connect on loopback, TLS to a cloud API). A server that keeps talking gets
        `DRAIN_S`, then its connection is closed as before.
        """
        try:
            async with timeout(DRAIN_S):
                async for _line in lines:
                    pass
        except (TimeoutError, BackendError, httpx.HTTPError):
            pass

    async def _guard(
        self, texts: AsyncIterator[str], started: float, max_body: int | None = None
    ) -> AsyncIterator[list[str]]:
        """The answer's complete lines, a batch per network read, under the timeouts.

        Batches, not single lines: a backend turns a batch into as few chunks as it can
        (adjacent text joined), so when the process falls behind a fast stream, the tokens
        that piled up in the socket travel on as one event instead of paying once each.
        """
        t = self.config.timeouts
        first = True
        carry = ""
        seen = 0
        while True:
            remaining = t.total - (time.monotonic() - started)
            limit = min(t.first_token if first else t.idle, remaining)
            what = (
                f"answer took longer than {t.total}s"
                if limit == remaining
                else f"no first byte within {t.first_token}s"
                if first
                else f"stalled: no output for {t.idle:g}s"
            )
            try:
                text = await self._deadline(anext(texts), limit, what)
            except StopAsyncIteration:
                if carry:
                    yield [carry]
                return
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, started=True) from None
            first = False
            seen += len(text)
            if max_body is not None and seen > max_body:
                raise AnswerTooLong(
                    f"{self.name}: answer stream passed {max_body} characters", backend=self.name
                )
            *lines, carry = (carry + text).split("\n")
            if lines:
                yield lines

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        if self._loop is not asyncio.get_running_loop():
            # Made on another event loop (now gone): its sockets cannot be closed from
            # here and are released with that loop.
            return
        for client in clients:
            await client.aclose()
