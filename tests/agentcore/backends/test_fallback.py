"""The fallback chain, driven by ScriptedBackends: failures are data, time is injected."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from agentcore.backends.base import (
    Backend,
    BackendInfo,
    ModelRequest,
    NoticeChunk,
    TextDelta,
    UsageChunk,
)
from agentcore.backends.fallback import FallbackBackend, NoBackendAvailable
from agentcore.backends.ollama import OllamaBackend
from agentcore.breaker import CircuitBreaker, InMemoryBreakerStore
from agentcore.errors import (
    BackendError,
    BackendHTTPError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    ContextTooLong,
    ModelNotFound,
)
from agentcore.loop import Agent
from agentcore.messages import Message
from agentcore.retry import RetryPolicy
from agentcore.specs import parse_spec, with_name
from agentcore.testing import ScriptedBackend, UnexpectedBackendCall
from agentcore.testing.faults import rate_limit, truncate_stream
from agentcore.testing.server import ScriptedServer
from agentcore.tools import ToolSet

REQUEST = ModelRequest(messages=[Message(role="user", content="add buy milk")], tools=[])


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RecordingSleep:
    """Stands in for asyncio.sleep: remembers the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted(name, script, *, locality="local"):
    info = BackendInfo(name=name, kind="scripted", model=f"{name}-model", locality=locality)
    return ScriptedBackend(script, info=info)


def chain(*backends, clock=None, **options):
    options.setdefault("retry", RetryPolicy(max_retries=2, base_s=0.1, rng=lambda: 0.0))
    options.setdefault(
        "breaker", CircuitBreaker(InMemoryBreakerStore(), clock=clock or FakeClock())
    )
    options.setdefault("sleep", RecordingSleep())
    return FallbackBackend(list(backends), **options)


async def collect(backend):
    return [chunk async for chunk in backend.stream(REQUEST)]


def notices(chunks):
    return [(c.notice, c.backend.name) for c in chunks if isinstance(c, NoticeChunk)]


def text(chunks):
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


async def test_transient_failures_are_retried_with_growing_backoff_then_succeed():
    a = scripted("a", [BackendHTTPError(status=503), BackendHTTPError(status=503), "ok"])
    fallback = chain(a, scripted("b", []))
    chunks = await collect(fallback)
    assert text(chunks) == "ok"
    assert notices(chunks) == [
        ("attempt", "a"),
        ("retry", "a"),
        ("attempt", "a"),
        ("retry", "a"),
        ("attempt", "a"),
    ]
    retries = [c for c in chunks if isinstance(c, NoticeChunk) and c.notice == "retry"]
    assert retries[0].reason == "HTTP 503 from a; retry 1/2 in 0.1s"
    assert retries[1].data == {
        "attempt": 2,
        "max_retries": 2,
        "delay_s": 0.2,
        "error_kind": "http_error",
        "status": 503,
    }
    assert fallback.sleep.delays == [0.1, 0.2]
    assert len(a.calls) == 3


async def test_a_429_waits_exactly_as_long_as_retry_after_says():
    a = scripted("a", [BackendHTTPError(status=429, retry_after=2.0), "ok"])
    fallback = chain(a)
    chunks = await collect(fallback)
    assert fallback.sleep.delays == [2.0]
    retry = next(c for c in chunks if isinstance(c, NoticeChunk) and c.notice == "retry")
    assert retry.reason == "HTTP 429 from a; retry 1/2 in 2s (Retry-After)"


async def test_a_retry_after_past_the_cap_falls_back_without_waiting():
    a = scripted("a", [BackendHTTPError(status=429, retry_after=600.0)])
    fallback = chain(a, scripted("b", ["ok"]))
    chunks = await collect(fallback)
    assert text(chunks) == "ok"
    assert fallback.sleep.delays == []
    hop = next(c for c in chunks if isinstance(c, NoticeChunk) and c.notice == "fallback")
    assert "Retry-After 600s exceeds the 10s cap" in hop.reason


async def test_a_401_is_not_retried_and_falls_back_to_the_next_backend():
    a = scripted("a", [BackendHTTPError("invalid API key", status=401)])
    b = scripted("b", ["Added it."])
    fallback = chain(a, b)
    chunks = await collect(fallback)
    assert notices(chunks) == [("attempt", "a"), ("fallback", "a"), ("attempt", "b")]
    hop = [c for c in chunks if isinstance(c, NoticeChunk)][1]
    assert hop.reason == "HTTP 401 from a: invalid API key; falling back to b"
    assert hop.data == {"next": "b", "error_kind": "http_error", "status": 401}
    assert text(chunks) == "Added it."
    assert (len(a.calls), len(b.calls)) == (1, 1)
    assert fallback.sleep.delays == []


@pytest.mark.parametrize(
    "error",
    [
        ModelNotFound("model 'x' not found; run `ollama pull x`"),
        ContextTooLong("too long", status=400),
    ],
)
def test_a_missing_model_or_a_full_context_moves_on_without_retrying(error):
    a = scripted("a", [error])
    b = scripted("b", ["ok"])
    chunks = asyncio.run(collect(chain(a, b)))
    assert text(chunks) == "ok"
    assert len(a.calls) == 1


async def test_a_failure_after_streamed_text_abandons_it_and_never_retries_the_same_backend():
    async def breaks_off(request, info):
        yield TextDelta("I have ")
        yield TextDelta("added ")
        raise BackendProtocolError("stream broke off")

    a = scripted("a", breaks_off)
    b = scripted("b", ["Added “buy milk”."])
    chunks = await collect(chain(a, b))
    assert notices(chunks) == [
        ("attempt", "a"),
        ("abandon", "a"),
        ("fallback", "a"),
        ("attempt", "b"),
    ]
    abandon = next(c for c in chunks if isinstance(c, NoticeChunk) and c.notice == "abandon")
    assert abandon.reason.startswith("protocol_error from a: stream broke off")
    assert len(a.calls) == 1


async def test_the_breaker_opens_after_three_failures_and_skips_the_backend_without_calling_it():
    clock = FakeClock()
    breaker = CircuitBreaker(InMemoryBreakerStore(), threshold=3, cooldown_s=30, clock=clock)
    a = scripted("a", [BackendHTTPError(status=503)] * 3 + ["back again"])
    b = scripted("b", ["first", "second"])
    fallback = chain(a, b, breaker=breaker)

    assert text(await collect(fallback)) == "first"
    assert len(a.calls) == 3
    assert (await breaker.snapshot("a")).state == "open"

    chunks = await collect(fallback)
    assert len(a.calls) == 3
    skip = next(c for c in chunks if isinstance(c, NoticeChunk) and c.notice == "skip")
    assert skip.reason == "skipped: circuit open until 2023-11-14T22:13:50+00:00"
    assert skip.data == {"open_until": "2023-11-14T22:13:50+00:00"}
    assert text(chunks) == "second"

    clock.t += 30
    chunks = await collect(fallback)
    assert text(chunks) == "back again"
    assert len(a.calls) == 4
    assert (await breaker.snapshot("a")).state == "closed"


async def test_the_chain_reports_the_breaker_of_each_of_its_backends():
    a = scripted("a", [BackendHTTPError(status=503)] * 3)
    fallback = chain(a, scripted("b", ["ok"]))
    await collect(fallback)
    snapshots = await fallback.breaker_snapshots()
    assert [(s.name, s.state, s.failures) for s in snapshots] == [
        ("a", "open", 3),
        ("b", "closed", 0),
    ]


async def test_a_failed_half_open_trial_is_not_retried_and_reopens_the_breaker():
    clock = FakeClock()
    breaker = CircuitBreaker(InMemoryBreakerStore(), threshold=1, cooldown_s=30, clock=clock)
    a = scripted("a", [BackendHTTPError(status=503), BackendHTTPError(status=503)])
    b = scripted("b", ["one", "two"])
    fallback = chain(a, b, breaker=breaker)
    await collect(fallback)
    clock.t += 30
    chunks = await collect(fallback)
    assert len(a.calls) == 2
    hop = next(c for c in chunks if isinstance(c, NoticeChunk) and c.notice == "fallback")
    assert "half-open trial failed" in hop.reason
    assert (await breaker.snapshot("a")).state == "open"


async def test_local_only_never_calls_a_cloud_backend_and_says_why():
    cloud = scripted("gpt", [], locality="cloud")
    local = scripted("builtin", ["Done."])
    fallback = chain(cloud, local, policy="local_only")
    chunks = await collect(fallback)
    assert cloud.calls == []
    skip = chunks[0]
    assert isinstance(skip, NoticeChunk)
    assert (skip.notice, skip.backend.name) == ("skip", "gpt")
    assert skip.reason == "withheld: conversation is local-only, gpt is a cloud backend"
    assert text(chunks) == "Done."
    assert fallback.info.locality == "local"


async def test_a_local_only_chain_with_only_cloud_backends_refuses_without_a_connection():
    cloud = scripted("gpt", [], locality="cloud")
    with pytest.raises(NoBackendAvailable, match="gpt: withheld"):
        await collect(chain(cloud, policy="local_only"))
    assert cloud.calls == []


async def test_when_every_backend_fails_the_last_error_is_raised_with_a_summary_of_each():
    a = scripted("a", [BackendHTTPError("bad key", status=401)])
    b = scripted("b", [BackendHTTPError(status=503)] * 3)
    with pytest.raises(BackendHTTPError) as caught:
        await collect(chain(a, b))
    assert caught.value.status == 503
    assert caught.value.backend == "b"
    assert str(caught.value) == (
        "all backends failed: HTTP 401 from a: bad key; "
        "HTTP 503 from b; no retries left (3 attempts)"
    )


async def test_the_error_raised_names_the_last_backend_tried_not_the_last_one_listed():
    a = scripted("a", [BackendHTTPError(status=404)])
    cloud = scripted("gpt", [], locality="cloud")
    with pytest.raises(BackendHTTPError) as caught:
        await collect(chain(a, cloud, policy="local_only"))
    assert caught.value.backend == "a"
    assert str(caught.value) == (
        "all backends failed: HTTP 404 from a; "
        "gpt: withheld: conversation is local-only, gpt is a cloud backend"
    )


async def test_a_bug_in_a_backend_is_raised_not_hidden_by_the_next_backend():
    a = scripted("a", [])
    b = scripted("b", ["ok"])
    with pytest.raises(UnexpectedBackendCall):
        await collect(chain(a, b))
    assert b.calls == []


async def test_a_refused_connection_goes_to_the_next_backend_without_sleeping():
    # How fast that is gets measured in benchmarks/; here: no backoff sleep, no retry.
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    a = scripted("ollama", [BackendUnavailable("cannot reach 127.0.0.1:9 (connection refused)")])
    fallback = chain(a, scripted("builtin", ["ok"]), sleep=sleep)
    assert text(await collect(fallback)) == "ok"
    assert slept == []
    assert len(a.calls) == 1


class EndlessBackend(Backend):
    """Streams until closed, and records that it was closed."""

    def __init__(self) -> None:
        self.info = BackendInfo(name="a", kind="scripted", model="m")
        self.closed = False

    async def stream(self, request):
        try:
            while True:
                yield TextDelta("more ")
                await asyncio.sleep(0)
        finally:
            self.closed = True


async def test_stopping_the_stream_closes_the_inner_backend_and_frees_a_half_open_trial():
    clock = FakeClock()
    breaker = CircuitBreaker(InMemoryBreakerStore(), threshold=1, clock=clock)
    await breaker.record_failure("a")
    clock.t += 30
    endless = EndlessBackend()
    stream = chain(endless, breaker=breaker).stream(REQUEST)
    async for chunk in stream:
        if isinstance(chunk, TextDelta):
            break
    await stream.aclose()
    assert endless.closed
    assert (await breaker.admit("a")).trial


async def test_cancelling_the_consumer_task_closes_the_inner_backend():
    endless = EndlessBackend()
    fallback = chain(endless)
    first = asyncio.Event()

    async def consume():
        async with contextlib.aclosing(fallback.stream(REQUEST)) as stream:
            async for chunk in stream:
                if isinstance(chunk, TextDelta):
                    first.set()
                await asyncio.sleep(0)

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert endless.closed


async def test_a_backend_that_goes_silent_times_out_and_is_retried():
    async def stalls(request, info):
        await asyncio.sleep(10)
        yield TextDelta("too late")

    a = scripted("a", stalls)
    fallback = chain(a, scripted("b", ["ok"]), idle_timeout=0.01, retry=RetryPolicy(max_retries=1))
    chunks = await collect(fallback)
    assert notices(chunks)[:3] == [("attempt", "a"), ("retry", "a"), ("attempt", "a")]
    assert "timeout from a: no output for 0.01s" in chunks[1].reason
    assert text(chunks) == "ok"


async def test_usage_and_tool_calls_pass_through_unchanged():
    a = scripted("a", [["hi", UsageChunk(5, 1)]])
    chunks = await collect(chain(a))
    assert chunks[-1] == UsageChunk(5, 1)


async def test_giving_up_on_a_backend_lasts_for_its_run_only_and_says_so_once():
    a, b, c = scripted("a", ["x"]), scripted("b", ["y", "z"]), scripted("c", [], locality="cloud")
    fallback = chain(a, b, c)
    assert fallback.give_up_on("a", "bad calls") is None, "the shared chain never forgets"
    turn = fallback.for_turn()
    assert turn.give_up_on("a", "invalid tool calls from a") == "b"
    first = await collect(turn)
    assert notices(first)[:2] == [("fallback", "a"), ("attempt", "b")]
    assert "invalid tool calls from a; falling back to b" in first[0].reason
    second = await collect(turn)
    assert notices(second) == [("attempt", "b")], "said once per run"
    assert text(second) == "z"
    assert await collect(fallback) and a.calls, "another run starts with a again"
    assert fallback.with_policy("local_only").for_turn().give_up_on("b", "bad") is None


async def test_a_backend_that_failed_in_a_run_is_not_tried_again_in_that_run():
    a = scripted("a", [BackendTimeout("stalled", backend="a")])
    b = scripted("b", ["first", "second"])
    turn = chain(a, b, retry=RetryPolicy(max_retries=0)).for_turn()
    assert text(await collect(turn)) == "first"
    again = await collect(turn)
    assert notices(again)[:2] == [("skip", "a"), ("attempt", "b")]
    assert "earlier in this run" in again[0].reason
    assert text(again) == "second"
    a.assert_complete()


def test_the_chain_describes_itself_as_one_backend():
    fallback = chain(scripted("ollama", []), scripted("gpt", [], locality="cloud"))
    info = fallback.info
    assert (info.name, info.kind, info.model, info.locality) == (
        "ollama,gpt",
        "fallback",
        "ollama-model",
        "cloud",
    )
    assert fallback.with_policy("local_only").info.locality == "local"


def test_errors_from_the_chain_belong_to_the_backend_error_taxonomy():
    assert issubclass(NoBackendAvailable, BackendError)


async def run_agent(backend, message="add buy milk"):
    agent = Agent(backend=backend, tools=ToolSet.of([]))
    return [e async for e in agent.run([Message(role="user", content=message)], run_id="r1")]


async def test_the_loop_reports_retry_and_fallback_events_and_the_second_backend_answers():
    a = scripted("ollama", [BackendHTTPError(status=503), BackendUnavailable("connection reset")])
    b = scripted("builtin", ["Added “buy milk”."])
    events = await run_agent(chain(a, b, retry=RetryPolicy(max_retries=1, rng=lambda: 0.0)))
    kinds = [e.type for e in events if e.type != "token"]
    assert kinds == [
        "run_started",
        "model_request",
        "retry",
        "fallback",
        "model_response",
        "final",
        "run_finished",
    ]
    retry = next(e for e in events if e.type == "retry")
    assert retry.payload.backend == "ollama"
    assert retry.payload.reason == "HTTP 503 from ollama; retry 1/1 in 0.25s"
    assert retry.payload.status == 503
    fallback = next(e for e in events if e.type == "fallback")
    assert fallback.payload.reason == (
        "unavailable from ollama: connection reset; no retries left; falling back to builtin"
    )
    response = next(e for e in events if e.type == "model_response")
    assert (response.payload.backend, response.payload.model) == ("builtin", "builtin-model")
    final = next(e for e in events if e.type == "final")
    assert (final.payload.text, final.payload.backend) == ("Added “buy milk”.", "builtin")
    assert events[-1].payload.status == "completed"
    assert events[-1].payload.answered_by == "builtin"


async def test_through_the_agent_loop_abandoned_text_is_not_part_of_the_answer():
    async def breaks_off(request, info):
        yield TextDelta("Half an ")
        raise BackendProtocolError("stream broke off")

    events = await run_agent(chain(scripted("ollama", breaks_off), scripted("builtin", ["Done."])))
    notices_seen = [e.payload.notice for e in events if e.type == "fallback"]
    assert notices_seen == ["abandon", "fallback"]
    tokens = [e.payload.backend for e in events if e.type == "token"]
    assert tokens[0] == "ollama" and tokens[-1] == "builtin"
    final = next(e for e in events if e.type == "final")
    assert final.payload.text == "Done."


async def test_through_the_agent_loop_a_chain_that_fails_everywhere_ends_the_run_failed():
    fallback = chain(
        scripted("ollama", [BackendUnavailable("connection refused")]),
        scripted("gpt", [BackendHTTPError("bad key", status=401)]),
    )
    events = await run_agent(fallback)
    error = next(e for e in events if e.type == "error")
    assert error.payload.status == 401
    assert error.payload.backend == "gpt"
    assert error.payload.message.startswith("all backends failed: unavailable from ollama")
    assert events[-1].payload.status == "failed"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ollama(name, url):
    return OllamaBackend.from_config(with_name(parse_spec(f"ollama:task-api-model@{url}"), name))


async def test_over_the_wire_a_refused_connection_falls_back_without_a_retry():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with ScriptedServer(["Hello!"]) as server:
        dead = ollama("dead", f"http://127.0.0.1:{closed_port()}")
        live = ollama("live", server.url)
        fallback = chain(dead, live, sleep=sleep)
        chunks = await collect(fallback)
        await fallback.aclose()
    assert notices(chunks) == [("attempt", "dead"), ("fallback", "dead"), ("attempt", "live")]
    assert "nothing is listening; falling back to live" in chunks[1].reason
    assert text(chunks) == "Hello!"
    assert slept == []


async def test_over_the_wire_a_429_retry_after_is_honoured_and_a_truncated_stream_abandoned():
    script = [rate_limit(retry_after=3), truncate_stream("Half an answer that breaks")]
    async with ScriptedServer(script) as server, ScriptedServer(["Whole answer."]) as other:
        fallback = chain(ollama("first", server.url), ollama("second", other.url))
        chunks = await collect(fallback)
        await fallback.aclose()
    assert notices(chunks) == [
        ("attempt", "first"),
        ("retry", "first"),
        ("attempt", "first"),
        ("abandon", "first"),
        ("fallback", "first"),
        ("attempt", "second"),
    ]
    assert fallback.sleep.delays == [3.0]
    assert text(chunks).endswith("Whole answer.")


async def test_a_failed_attempts_time_is_charged_to_it_not_to_the_backend_that_answers():
    async def slow_refusal(request, info):
        await asyncio.sleep(1.0)
        return BackendUnavailable("connection refused", backend="slow")

    backend = chain(
        scripted("slow", slow_refusal),
        scripted("quick", ["Added."]),
        retry=RetryPolicy(max_retries=0, base_s=0.1, rng=lambda: 0.0),
    )
    agent = Agent(backend=backend, tools=ToolSet.of([]))
    events = [e async for e in agent.run([Message(role="user", content="hi")], run_id="r")]
    fallback = next(e.payload for e in events if e.type == "fallback")
    answer = next(e.payload for e in events if e.type == "model_response")
    assert fallback.backend == "slow" and fallback.duration_ms >= 1000
    assert answer.backend == "quick"
    assert answer.duration_ms < fallback.duration_ms  # before: the answer's time held the 1 s
