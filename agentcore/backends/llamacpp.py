"""A GGUF model in-process through llama-cpp-python (an optional extra).

llama-cpp-python's `create_chat_completion` yields the same chunk dicts as an OpenAI stream,
so this backend reuses `wire.StreamDecoder` for text, tool-call deltas and usage. Generation
blocks, so it runs on a worker thread and its chunks are handed back to the event loop; the
model is loaded once per backend instance, and one lock serialises generations because a
`Llama` object is not thread-safe.

Spec: `llamacpp:/path/model.gguf`, or `llamacpp:/path/model.gguf#chatml-function-calling`
to pick llama-cpp-python's chat format (default: the template inside the GGUF); add
`&tool_choice=create_task` to force that tool on a turn's first request (see `specs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import BackendProtocolError, ConfigError, ContextTooLong, ModelNotFound
from ..specs import BackendConfig
from .base import Backend, Chunk, ModelRequest, UsageChunk
from .wire import StreamDecoder, chat_body, info_from_config

INSTALL_HINT = (
    "the llamacpp backend needs llama-cpp-python: `pip install -r requirements-interop.txt`"
)


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    return llama_cpp


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


class LlamaCppBackend(Backend):
    """A local GGUF model, no server: the simplest way to run a fine-tune on a laptop."""

    def __init__(
        self,
        config: BackendConfig,
        *,
        chat_format: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
    ) -> None:
        path, _, suffix = config.model.partition("#")
        self.model_path = path
        self.chat_format = chat_format or suffix or None
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.config = config
        self.info = replace(info_from_config(config), model=Path(path).name)
        self._llama: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: BackendConfig) -> LlamaCppBackend:
        return cls(config)

    def _load(self) -> Any:
        """Load the model on first use (called with the lock held, on a worker thread)."""
        if self._llama is None:
            if not Path(self.model_path).is_file():
                raise ModelNotFound(
                    f"{self.info.name}: no GGUF file at {self.model_path}", backend=self.info.name
                )
            llama_cpp = _import_llama()
            self._llama = llama_cpp.Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                chat_format=self.chat_format,
                verbose=False,
            )
        return self._llama

    async def check_model(self) -> None:
        """Load the model now (it raises `ModelNotFound` or `ConfigError` if it cannot)."""
        await asyncio.to_thread(self._locked_load)

    def _locked_load(self) -> None:
        with self._lock:
            self._load()

    def _kwargs(self, request: ModelRequest) -> dict[str, Any]:
        kwargs = chat_body(
            request,
            model=self.info.model,
            stream=True,
            tool_choice=self.config.tool_choice,
            backend=self.info.name,
        )
        for key in ("model", "stream_options"):
            kwargs.pop(key, None)
        return kwargs

    def _generate(self, kwargs: dict[str, Any], emit: Any, stop: threading.Event) -> None:
        """Worker thread: run the blocking generation, pass each chunk to `emit`."""
        try:
            with self._lock:
                llama = self._load()
                for chunk in llama.create_chat_completion(**kwargs):
                    if stop.is_set():
                        break
                    emit(chunk)
                emit({"_n_tokens": int(getattr(llama, "n_tokens", 0))})
        except BaseException as exc:
            emit(_Failed(exc))
        finally:
            emit(_END)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a cancelled run
                loop.call_soon_threadsafe(queue.put_nowait, item)

        kwargs = self._kwargs(request)  # raises on the event loop, before any thread starts
        worker = loop.run_in_executor(None, self._generate, kwargs, emit, stop)
        decoder = StreamDecoder()
        pieces = 0
        n_tokens = 0
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, _Failed):
                    raise self._error(item.error)
                if "_n_tokens" in item:
                    n_tokens = item["_n_tokens"]
                    continue
                produced = decoder.feed(item)
                pieces += sum(
                    1
                    for choice in item.get("choices") or []
                    if (choice.get("delta") or {}).get("content")
                    or (choice.get("delta") or {}).get("tool_calls")
                )
                for chunk in produced:
                    yield chunk
        finally:
            stop.set()
            await asyncio.shield(worker)
        for chunk in decoder.finish(request):
            if isinstance(chunk, UsageChunk) and chunk.estimated and n_tokens and pieces:
                chunk = UsageChunk(
                    max(n_tokens - pieces, 0),
                    pieces,
                    details={"counted_from": "llama context (n_tokens) and streamed pieces"},
                )
            yield chunk

    def _error(self, exc: BaseException) -> Exception:
        if isinstance(exc, ConfigError | ModelNotFound):
            return exc
        text = f"{self.info.name}: {type(exc).__name__}: {exc}"
        if "context window" in str(exc) or "exceed context" in str(exc):
            return ContextTooLong(text, status=400, backend=self.info.name)
        return BackendProtocolError(text, backend=self.info.name)

    async def aclose(self) -> None:
        llama, self._llama = self._llama, None
        if llama is not None and hasattr(llama, "close"):
            await asyncio.to_thread(llama.close)
