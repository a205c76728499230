"""Benchmark 2: what the HTTP backends, a LiteLLM proxy hop and the fallback chain add per call.

Each client sends the same request to the same scripted upstream over keep-alive connections:
a bare `httpx` stream (the floor), the `openai_compat` and `ollama` backends, the same
`openai_compat` backend through a real LiteLLM proxy (when .venv-litellm exists), and a
FallbackBackend whose first backend answers. Calls are interleaved, so drift hits all alike.
Also: the time from a refused connection to the next backend's first request, and how many
`httpx.AsyncClient`s were built while the calls ran (the answer must be none).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import httpx

from agentcore.backends.base import Backend, ModelRequest
from agentcore.backends.fallback import FallbackBackend
from agentcore.backends.ollama import OllamaBackend
from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.backends.wire import chat_body
from agentcore.breaker import CircuitBreaker
from agentcore.messages import Message
from agentcore.specs import parse_spec
from agentcore.testing.server import ScriptedServer

from .litellm_proxy import LiteLLMProxy, litellm_binary
from .loop_overhead import memory_tools
from .sizes import Sizes
from .stats import Figure
from .upstream import Upstream

NAME = "2 client overhead"
Call = Callable[[], Awaitable[None]]
REQUEST = ModelRequest(
    messages=[
        Message(role="system", content="You are Taskweb. Use the tools."),
        Message(role="user", content="Add a task to buy milk tomorrow"),
    ],
    tools=memory_tools().specs,
)


class CountingAsyncClient(httpx.AsyncClient):
    """Installed as `httpx.AsyncClient` while calls are timed: counts every client built."""

    built = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        CountingAsyncClient.built += 1
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def _ms(seconds: float) -> float:
    return seconds * 1000


def bare_call(client: httpx.AsyncClient, path: str, body: dict[str, object]) -> Call:
    async def call() -> None:
        async with client.stream("POST", path, json=body) as response:
            async for _line in response.aiter_lines():
                pass

    return call


def backend_call(backend: Backend) -> Call:
    async def call() -> None:
        async for _chunk in backend.stream(REQUEST):
            pass

    return call


async def _timed(calls: dict[str, Call], rounds: int) -> dict[str, list[float]]:
    for call in calls.values():  # warm up: connections open, code paths hot
        for _ in range(5):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            samples[name].append(_ms(time.perf_counter() - started))
    return samples


def _added(
    label: str, slow: list[float], fast: list[float], target: str, limit: float | None
) -> Figure:
    diffs = [s - f for s, f in zip(slow, fast, strict=True)]
    figure = Figure.of(NAME, label, diffs, target=target, note="paired differences")
    return figure.judge(figure.median < limit) if limit is not None else figure


async def run(sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    with Upstream(mode="text") as up:
        openai = OpenAICompatBackend(parse_spec(f"openai_compat:scripted@{up.url}/v1"))
        ollama = OllamaBackend(parse_spec(f"ollama:scripted@{up.url}"))
        chain = FallbackBackend(
            [OpenAICompatBackend(parse_spec(f"openai_compat:scripted@{up.url}/v1")),
             OllamaBackend(parse_spec(f"ollama:scripted@{up.url}"))],
            breaker=CircuitBreaker(),
        )  # fmt: skip
        _path, ollama_body = ollama._body(REQUEST)
        async with httpx.AsyncClient(base_url=up.url) as bare:
            calls = {
                "bare httpx (openai)": bare_call(
                    bare, "/v1/chat/completions", chat_body(REQUEST, model="scripted", stream=True)
                ),
                "openai_compat": backend_call(openai),
                "bare httpx (ollama)": bare_call(bare, "/api/chat", ollama_body),
                "ollama": backend_call(ollama),
                "fallback chain": backend_call(chain),
            }
            original = httpx.AsyncClient
            for backend in (openai, ollama, chain):  # build their clients before counting
                await backend_call(backend)()
            CountingAsyncClient.built = 0
            httpx.AsyncClient = CountingAsyncClient  # type: ignore[misc]
            try:
                s = await _timed(calls, sizes.client_calls)
            finally:
                httpx.AsyncClient = original  # type: ignore[misc]
        for name, values in s.items():
            figures.append(Figure.of(NAME, f"{name} call", values))
        figures.append(
            _added("openai_compat added per call", s["openai_compat"],
                   s["bare httpx (openai)"], "< 0.5 ms median", 0.5)
        )  # fmt: skip
        figures.append(
            _added("ollama added per call", s["ollama"], s["bare httpx (ollama)"],
                   "< 0.5 ms median", 0.5)
        )  # fmt: skip
        proxy = await _proxy_hop(sizes, up.url, openai, s)
        figures.extend(proxy)
        hop = next((f.median for f in proxy if f.name == "LiteLLM proxy hop added"), None)
        limit = (hop if hop is not None and hop == hop else 5.0) / 10
        figures.append(
            _added("fallback chain added per call", s["fallback chain"], s["openai_compat"],
                   f"< {limit:.2f} ms (1/10 proxy hop)", limit)
        )  # fmt: skip
        figures.append(
            Figure.single(
                NAME, "httpx clients built during timed calls", CountingAsyncClient.built,
                unit="count", target="0",
            ).judge(CountingAsyncClient.built == 0)
        )  # fmt: skip
        for backend in (openai, ollama, chain):
            await backend.aclose()
    figures.append(await _refused(sizes))
    return figures


async def _proxy_hop(
    sizes: Sizes, upstream: str, direct: OpenAICompatBackend, s: dict[str, list[float]]
) -> list[Figure]:
    label = "LiteLLM proxy hop added"
    if sizes.proxy_calls <= 0:
        return [Figure.skipped(NAME, label, "not in this preset")]
    if litellm_binary() is None:
        return [Figure.skipped(NAME, label, ".venv-litellm missing: `make litellm`")]
    with LiteLLMProxy(f"{upstream}/v1") as proxy:
        os.environ["BENCH_LITELLM_KEY"] = proxy.key
        config = replace(
            parse_spec(f"openai_compat:scripted@{proxy.url}/v1"), api_key_env="BENCH_LITELLM_KEY"
        )
        via = OpenAICompatBackend(config)
        p = await _timed(
            {"direct": backend_call(direct), "proxy": backend_call(via)}, sizes.proxy_calls
        )
        await via.aclose()
    return [
        Figure.of(NAME, "openai_compat via LiteLLM call", p["proxy"]),
        _added(label, p["proxy"], p["direct"], "", None),
    ]


def _refused_port() -> int:
    with socket.socket() as sock:  # bound then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _refused(sizes: Sizes) -> Figure:
    """From the chain's first request to the next backend's first request, after a refusal."""
    samples = []
    with ScriptedServer(lambda request, info: "ok") as server:
        dead = f"openai_compat:scripted@http://127.0.0.1:{_refused_port()}/v1"
        live = OpenAICompatBackend(parse_spec(f"openai_compat:scripted@{server.url}/v1"))
        refusing = OpenAICompatBackend(parse_spec(dead))  # long-lived, as routes keep them
        for trial in range(sizes.refused_trials + 1):  # trial 0 builds the clients
            chain = FallbackBackend([refusing, live], breaker=CircuitBreaker())
            server.requests.clear()
            started = time.monotonic()
            async for _chunk in chain.stream(REQUEST):
                pass
            if trial:
                samples.append(_ms(server.chat_requests[0].started - started))
        await refusing.aclose()
        await live.aclose()
    figure = Figure.of(
        NAME, "fallback after refused connection", samples, target="< 50 ms p95",
        note="chain start → next backend's first request",
    )  # fmt: skip
    return figure.judge(figure.p95 < 50)


__all__ = ["CountingAsyncClient", "run"]
