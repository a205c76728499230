"""The circuit breaker, on the in-process store, driven by a fake clock (nothing sleeps)."""

from __future__ import annotations

from datetime import datetime

from agentcore import breaker as breaker_module
from agentcore.breaker import CircuitBreaker, InMemoryBreakerStore
from agentcore.compat import UTC


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make_breaker(clock: FakeClock, **options) -> CircuitBreaker:
    return CircuitBreaker(InMemoryBreakerStore(), clock=clock, **options)


async def test_the_breaker_opens_after_three_consecutive_failures():
    clock = FakeClock()
    breaker = make_breaker(clock)
    assert await breaker.record_failure("ollama", "HTTP 503") == "closed"
    assert await breaker.record_failure("ollama", "HTTP 503") == "closed"
    assert await breaker.record_failure("ollama", "HTTP 503") == "open"
    admission = await breaker.admit("ollama")
    assert not admission.allowed
    assert admission.reason == "circuit open until 2023-11-14T22:13:50+00:00"
    assert (await breaker.admit("builtin")).allowed


async def test_a_success_resets_the_count_because_failures_must_be_consecutive():
    clock = FakeClock()
    breaker = make_breaker(clock)
    await breaker.record_failure("ollama")
    await breaker.record_failure("ollama")
    await breaker.record_success("ollama")
    assert await breaker.record_failure("ollama") == "closed"
    assert (await breaker.snapshot("ollama")).failures == 1


async def test_after_the_cooldown_exactly_one_trial_request_is_let_through():
    clock = FakeClock()
    breaker = make_breaker(clock, threshold=1, cooldown_s=30)
    await breaker.record_failure("ollama")
    clock.advance(29.9)
    assert not (await breaker.admit("ollama")).allowed
    clock.advance(0.1)
    first = await breaker.admit("ollama")
    second = await breaker.admit("ollama")
    assert (first.allowed, first.trial) == (True, True)
    assert not second.allowed
    assert "trial request is in flight" in second.reason


async def test_a_successful_trial_closes_the_breaker():
    clock = FakeClock()
    breaker = make_breaker(clock, threshold=1)
    await breaker.record_failure("ollama")
    clock.advance(30)
    assert (await breaker.admit("ollama")).trial
    await breaker.record_success("ollama")
    snapshot = await breaker.snapshot("ollama")
    assert (snapshot.state, snapshot.failures, snapshot.open_until) == ("closed", 0, None)
    assert (await breaker.admit("ollama")).allowed


async def test_a_failed_trial_opens_the_breaker_for_another_cooldown():
    clock = FakeClock()
    breaker = make_breaker(clock, threshold=3, cooldown_s=30)
    for _ in range(3):
        await breaker.record_failure("ollama")
    clock.advance(30)
    assert (await breaker.admit("ollama")).trial
    assert await breaker.record_failure("ollama", "still down") == "open"
    snapshot = await breaker.snapshot("ollama")
    assert snapshot.open_until == datetime.fromtimestamp(clock.t + 30, UTC)
    assert snapshot.last_error == "still down"


async def test_a_cancelled_trial_gives_its_slot_back():
    clock = FakeClock()
    breaker = make_breaker(clock, threshold=1)
    await breaker.record_failure("ollama")
    clock.advance(30)
    assert (await breaker.admit("ollama")).trial
    await breaker.release_trial("ollama")
    assert (await breaker.admit("ollama")).trial


async def test_a_trial_whose_process_vanished_lapses_after_its_lease():
    clock = FakeClock()
    breaker = make_breaker(clock, threshold=1, trial_lease_s=60)
    await breaker.record_failure("ollama")
    clock.advance(30)
    assert (await breaker.admit("ollama")).trial
    clock.advance(59)
    assert not (await breaker.admit("ollama")).allowed
    clock.advance(2)
    assert (await breaker.admit("ollama")).trial


async def test_snapshots_report_state_failures_and_reopening_time_for_the_doctor():
    clock = FakeClock()
    breaker = make_breaker(clock, threshold=2, cooldown_s=10)
    await breaker.record_failure("ollama", "HTTP 503 from ollama")
    await breaker.record_failure("ollama", "HTTP 503 from ollama")
    await breaker.record_failure("cloud", "timeout from cloud")
    snapshots = {s.name: s for s in await breaker.snapshot_all()}
    assert snapshots["ollama"].to_dict() == {
        "name": "ollama",
        "state": "open",
        "failures": 2,
        "open_until": "2023-11-14T22:13:30+00:00",
        "last_error": "HTTP 503 from ollama",
    }
    assert snapshots["cloud"].state == "closed"
    clock.advance(10)
    assert (await breaker.snapshot("ollama")).state == "half_open"
    listed = await breaker.snapshot_all(["builtin"])
    assert [(s.name, s.state) for s in listed] == [("builtin", "closed")]


async def test_reset_forgets_one_backend_or_all():
    breaker = make_breaker(FakeClock(), threshold=1)
    await breaker.record_failure("a")
    await breaker.record_failure("b")
    await breaker.reset("a")
    assert [s.name for s in await breaker.snapshot_all()] == ["b"]
    await breaker.reset()
    assert await breaker.snapshot_all() == []


def test_the_process_wide_breaker_is_one_object_and_can_be_replaced():
    original = breaker_module.default_breaker()
    assert breaker_module.default_breaker() is original
    replacement = CircuitBreaker()
    try:
        breaker_module.set_default_breaker(replacement)
        assert breaker_module.default_breaker() is replacement
        breaker_module.set_default_breaker(None)
        fresh = breaker_module.default_breaker()
        assert fresh is not replacement and fresh is not original
    finally:
        breaker_module.set_default_breaker(original)
