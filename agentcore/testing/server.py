"""ScriptedServer: a real loopback HTTP server that speaks the Ollama and OpenAI protocols.

It answers from a script in the ScriptedBackend's `Turn` vocabulary, plus the faults of
`faults.py`, so a test can drop from the backend level to the wire level without rewriting
its script. It runs an asyncio server on its own thread (usable from sync and async tests),
keeps connections alive and serves hundreds of concurrent calls, which the benchmarks use.

    with ScriptedServer(["Hello!", status(503)]) as server:
        config = parse_spec(f"ollama:task-api-model@{server.url}")
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeAlias, cast

from ..backends.base import BackendInfo, Chunk
from . import protocols as wire
from .faults import Fault, fault_for_exception
from .scripted import CallInfo, Turn, turn_chunks

Entry: TypeAlias = Turn | Fault
ServerResponder: TypeAlias = Callable[[Any, CallInfo], "Entry | Awaitable[Entry]"]
CHAT_PATHS = {"/api/chat", "/api/generate", "/v1/chat/completions", "/chat/completions"}


@dataclass(kw_only=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any
    """The parsed JSON body (None for GET)."""
    fault: str | None = None
    """The fault injected into this call, if any."""
    started: float = 0.0
    duration: float | None = None
    """Seconds from the request's arrival to the end of its response."""


@dataclass
class _Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    frames: list[bytes] | None = None
    """Streamed (chunked) bodies: one frame per protocol line/event."""
    pause_s: float = 0.0
    """Seconds between the headers and the first frame (`stall_after_headers`)."""


class ScriptedServer:
    """A scripted Ollama + OpenAI-compatible server on 127.0.0.1, one entry per chat call."""

    __test__ = False

    def __init__(
        self,
        script: Iterable[Entry] | ServerResponder = (),
        *,
        models: Sequence[str] | None = None,
        latency: float = 0.0,
        token_delay: float = 0.0,
        report_usage: bool = True,
    ) -> None:
        self._responder = script if callable(script) else None
        self._script = iter(()) if callable(script) else iter(list(script))
        self.models = list(models) if models is not None else None
        """Served model names; None serves any name (and lists `scripted`)."""
        self.latency = latency
        self.token_delay = token_delay
        self.report_usage = report_usage
        self.requests: list[RecordedRequest] = []
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL for Ollama specs; add `/v1` for OpenAI-compatible ones."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path in CHAT_PATHS]

    def assert_complete(self) -> None:
        with self._lock:
            left = sum(1 for _ in self._script)
        if left:
            raise AssertionError(f"{left} scripted entr(ies) were never requested")

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> ScriptedServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="ScriptedServer", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("ScriptedServer did not start")
        return self

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        server = loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=2048)
        )
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown(server))
            loop.close()

    async def _shutdown(self, server: asyncio.Server) -> None:
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ScriptedServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # HTTP ------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # shutdown; asyncio would log a cancelled handler
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        body = json.loads(raw) if raw else None
        path = target.split("?", 1)[0]
        record = RecordedRequest(
            method=method, path=path, headers=headers, body=body, started=time.monotonic()
        )
        self.requests.append(record)
        response = await self._dispatch(record)
        if response is None:  # `refuse`, or a stall with nothing after it
            record.duration = time.monotonic() - record.started
            writer.close()
            return False
        await self._write(writer, response, truncate=record.fault == "truncate_stream")
        record.duration = time.monotonic() - record.started
        return record.fault != "truncate_stream" and headers.get("connection") != "close"

    async def _write(
        self, writer: asyncio.StreamWriter, response: _Response, *, truncate: bool
    ) -> None:
        reason = "OK" if response.status < 400 else "Error"
        head = [f"HTTP/1.1 {response.status} {reason}", f"Content-Type: {response.content_type}"]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if response.frames is None:
            head.append(f"Content-Length: {len(response.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + response.body)
            await writer.drain()
            return
        head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        if response.pause_s:
            await writer.drain()
            await asyncio.sleep(response.pause_s)
        frames = (
            response.frames[: max(1, len(response.frames) // 2)] if truncate else response.frames
        )
        for i, frame in enumerate(frames):
            if i and self.token_delay:
                await asyncio.sleep(self.token_delay)
            writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            await writer.drain()
        if truncate:
            writer.transport.abort()
            return
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # protocol --------------------------------------------------------------------------
    async def _next_entry(self, record: RecordedRequest) -> Entry:
        index = next(self._counter)
        protocol = wire.protocol_of(record.path)
        request = wire.model_request_from_wire(record.path, record.body or {})
        if self._responder is not None:
            info = BackendInfo(
                name="scripted-server", kind=protocol, model=str((record.body or {}).get("model"))
            )
            entry = self._responder(request, CallInfo(index=index, info=info))
            if inspect.isawaitable(entry):
                entry = await entry
            return entry
        with self._lock:
            try:
                return next(self._script)
            except StopIteration:
                return Fault(
                    kind="status",
                    status=500,
                    message=f"ScriptedServer: unexpected call #{index}: the script is used up",
                )

    async def _dispatch(self, record: RecordedRequest) -> _Response | None:
        path, body = record.path, record.body or {}
        protocol = wire.protocol_of(path)
        if record.method == "GET" and path == "/":
            return _Response(body=b"Ollama is running", content_type="text/plain")
        if path == "/api/tags":
            return self._json(wire.tags_body(self.models or ["scripted"]))
        if path in {"/v1/models", "/models"}:
            return self._json(wire.models_body(self.models or ["scripted"]))
        if path not in CHAT_PATHS:
            return self._json(wire.error_body(protocol, 404, f"no route {path}"), status=404)
        model = str(body.get("model", ""))
        if protocol == "ollama" and self.models is not None and model not in self._model_names():
            message = f'model "{model}" not found, try pulling it first'
            return self._json(wire.error_body(protocol, 404, message), status=404)
        entry = await self._next_entry(record)
        if isinstance(entry, Exception):
            entry = fault_for_exception(entry)
        fault = entry if isinstance(entry, Fault) else None
        record.fault = fault.kind if fault else None
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None and fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            if fault.turn is None:
                return None
        if fault is not None and fault.kind == "refuse":
            return None
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            message = fault.message or f"scripted HTTP {fault.status}"
            return self._json(
                wire.error_body(protocol, fault.status, message), fault.status, headers
            )
        turn: Turn = fault.turn if fault is not None and fault.turn is not None else ""
        if fault is not None and fault.kind == "empty_stream":
            return _Response(frames=[]) if body.get("stream", protocol == "ollama") else _Response()
        return self._answer(
            record, fault, turn_chunks(turn if fault is not None else cast(Turn, entry))
        )

    def _model_names(self) -> set[str]:
        return {n for m in self.models or () for n in (m, m.removesuffix(":latest"))}

    def _answer(
        self, record: RecordedRequest, fault: Fault | None, chunks: list[Chunk]
    ) -> _Response:
        body = record.body or {}
        protocol = wire.protocol_of(record.path)
        kind = fault.kind if fault is not None else None
        if kind == "tool_call_in_text":
            chunks = wire.calls_as_text(chunks)
        request = wire.model_request_from_wire(record.path, body)
        usage = wire.usage_for(request, chunks) if self.report_usage else None
        model = str(body.get("model", ""))
        if protocol == "ollama":
            frames = wire.ollama_lines(
                chunks,
                model=model,
                generate=record.path == "/api/generate",
                usage=usage,
                elapsed=time.monotonic() - record.started,
            )
            streamed, content_type = bool(body.get("stream", True)), "application/x-ndjson"
            broken, prefix, suffix = (
                b'{"model": "' + model.encode() + b'", "message": {',
                b"",
                b"\n",
            )
        else:
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            frames = wire.openai_sse(chunks, model=model, usage=usage, include_usage=include)
            streamed, content_type = bool(body.get("stream")), "text/event-stream"
            broken, prefix, suffix = b'{"id": "chatcmpl-broken", "choices": [', b"data: ", b"\n\n"
        if not streamed:
            if kind == "malformed_json":
                return _Response(body=broken)
            if protocol == "ollama":
                return self._json(wire.ollama_whole(frames))
            return self._json(wire.openai_completion(chunks, model=model, usage=usage))
        if kind == "malformed_json":
            frames.insert(len(frames) // 2, prefix + broken + suffix)
        if kind == "stream_error" and fault is not None:
            error = json.dumps(wire.error_body(protocol, 500, fault.message)).encode()
            frames[len(frames) // 2 :] = [prefix + error + suffix]
        pause = fault.seconds if fault is not None and kind == "stall_after_headers" else 0.0
        return _Response(frames=frames, content_type=content_type, pause_s=pause)

    @staticmethod
    def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> _Response:
        return _Response(status=status, body=json.dumps(value).encode(), headers=headers or {})
