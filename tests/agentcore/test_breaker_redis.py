"""The Redis breaker store against a real Redis: what several daphne processes share.

Uses REDIS_URL (default redis://127.0.0.1:6379/15) under a per-test key prefix. Without a
reachable Redis the tests skip with the reason, unless REQUIRE_SERVICES=1 makes that a failure.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis.asyncio as redis

from agentcore.backends.base import BackendInfo, ModelRequest, NoticeChunk, TextDelta
from agentcore.backends.fallback import FallbackBackend
from agentcore.breaker import CircuitBreaker
from agentcore.breaker_redis import RedisBreakerStore
from agentcore.errors import BackendHTTPError
from agentcore.messages import Message
from agentcore.retry import RetryPolicy
from agentcore.testing import ScriptedBackend

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def stores():
    """Two stores on two connections with one prefix: two processes sharing one Redis."""
    probe = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await probe.ping()
    except (redis.RedisError, OSError) as exc:
        await probe.aclose()
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis at {REDIS_URL} is required (REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    prefix = f"test:breaker:{uuid.uuid4().hex}:"
    first = RedisBreakerStore(probe, prefix=prefix)
    second = RedisBreakerStore.from_url(REDIS_URL, prefix=prefix)
    yield first, second
    await first.reset()
    await second.aclose()
    await probe.aclose()


async def test_a_breaker_opened_in_one_process_is_open_in_another(stores):
    clock = FakeClock()
    here = CircuitBreaker(stores[0], threshold=3, cooldown_s=30, clock=clock)
    there = CircuitBreaker(stores[1], threshold=3, cooldown_s=30, clock=clock)
    await here.record_failure("ollama", "HTTP 503 from ollama")
    await there.record_failure("ollama", "HTTP 503 from ollama")
    assert await here.record_failure("ollama", "timeout from ollama") == "open"
    admission = await there.admit("ollama")
    assert not admission.allowed
    assert admission.reason == "circuit open until 2023-11-14T22:13:50+00:00"
    snapshot = await there.snapshot("ollama")
    assert (snapshot.state, snapshot.failures, snapshot.last_error) == (
        "open",
        3,
        "timeout from ollama",
    )
    assert [s.name for s in await there.snapshot_all()] == ["ollama"]


async def test_only_one_process_gets_the_half_open_trial(stores):
    clock = FakeClock()
    here = CircuitBreaker(stores[0], threshold=1, cooldown_s=30, clock=clock)
    there = CircuitBreaker(stores[1], threshold=1, cooldown_s=30, clock=clock)
    await here.record_failure("ollama")
    clock.t += 30
    assert (await here.admit("ollama")).trial
    assert not (await there.admit("ollama")).allowed
    await here.release_trial("ollama")
    assert (await there.admit("ollama")).trial


async def test_a_trial_failure_reopens_and_a_trial_success_closes_for_everyone(stores):
    clock = FakeClock()
    here = CircuitBreaker(stores[0], threshold=1, cooldown_s=30, clock=clock)
    there = CircuitBreaker(stores[1], threshold=1, cooldown_s=30, clock=clock)
    await here.record_failure("ollama")
    clock.t += 30
    assert (await here.admit("ollama")).trial
    assert await here.record_failure("ollama") == "open"
    assert (await there.snapshot("ollama")).state == "open"
    clock.t += 30
    assert (await there.admit("ollama")).trial
    await there.record_success("ollama")
    assert (await here.snapshot("ollama")).state == "closed"
    assert await here.snapshot_all() == []


async def test_failures_below_the_threshold_are_counted_across_processes(stores):
    clock = FakeClock()
    here = CircuitBreaker(stores[0], threshold=3, clock=clock)
    there = CircuitBreaker(stores[1], threshold=3, clock=clock)
    await here.record_failure("ollama")
    await there.record_failure("ollama")
    await here.record_success("ollama")
    assert (await there.snapshot("ollama")).failures == 0


async def test_a_chain_in_one_process_skips_a_backend_that_failed_in_another(stores):
    clock = FakeClock()
    request = ModelRequest(messages=[Message(role="user", content="hi")], tools=[])

    def chain(store, script):
        ollama = ScriptedBackend(script, info=BackendInfo(name="ollama", kind="s", model="m"))
        builtin = ScriptedBackend(["ok"], info=BackendInfo(name="builtin", kind="s", model="b"))
        breaker = CircuitBreaker(store, threshold=2, cooldown_s=30, clock=clock)
        retry = RetryPolicy(max_retries=1, base_s=0.0)
        return ollama, FallbackBackend([ollama, builtin], retry=retry, breaker=breaker)

    _, here = chain(stores[0], [BackendHTTPError(status=503)] * 2)
    answer = [c.text async for c in here.stream(request) if isinstance(c, TextDelta)]
    assert answer == ["ok"]
    ollama_there, there = chain(stores[1], [])
    chunks = [c async for c in there.stream(request)]
    assert ollama_there.calls == []
    skip = chunks[0]
    assert isinstance(skip, NoticeChunk) and skip.notice == "skip"


def test_a_store_from_a_url_works_across_event_loops_like_a_management_command(stores):
    store = RedisBreakerStore.from_url(REDIS_URL, prefix=stores[0].prefix)
    breaker = CircuitBreaker(store, threshold=1, clock=FakeClock())

    async def fail_then_close():
        state = await breaker.record_failure("ollama")
        await store.aclose()
        return state

    async def look_then_close():
        snapshot = await breaker.snapshot("ollama")
        await store.aclose()
        return snapshot.state

    assert asyncio.run(fail_then_close()) == "open"
    assert asyncio.run(look_then_close()) == "open"
