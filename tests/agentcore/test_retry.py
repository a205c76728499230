"""The retry policy: which failures are worth a retry, and how long to wait before it."""

from __future__ import annotations

import pytest

from agentcore.compat import BaseExceptionGroup
from agentcore.errors import (
    BackendHTTPError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    ContextTooLong,
    ModelNotFound,
)
from agentcore.retry import (
    RetryPolicy,
    classify,
    counts_against_breaker,
    describe,
    is_connect_failure,
)


@pytest.mark.parametrize(
    "error",
    [
        BackendUnavailable("connection reset by peer"),
        BackendTimeout("no first byte within 60s"),
        BackendProtocolError("stream broke off"),
        BackendHTTPError(status=429, retry_after=1.0),
        BackendHTTPError(status=502),
        BackendHTTPError(status=503),
        BackendHTTPError(status=504),
    ],
)
def test_transient_failures_are_retried(error):
    assert classify(error) == "retry"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_go_straight_to_the_next_backend(status):
    assert classify(BackendHTTPError(status=status)) == "fallback"


def test_a_missing_model_or_an_overlong_context_goes_to_the_next_backend():
    assert classify(ModelNotFound("pull it first")) == "fallback"
    assert classify(ContextTooLong("too long", status=400)) == "fallback"


def test_an_error_that_is_not_a_backend_error_is_a_bug_and_fails():
    assert classify(ValueError("oops")) == "fail"


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = RetryPolicy(max_retries=10, base_s=0.25, cap_s=1.5, rng=lambda: 0.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_jitter_shortens_the_backoff_by_at_most_its_fraction():
    policy = RetryPolicy(base_s=1.0, jitter=0.5, rng=lambda: 0.999999)
    assert 0.5 <= policy.backoff(1) < 0.5001


def test_retry_after_is_honoured_exactly():
    decision = RetryPolicy().decide(BackendHTTPError(status=429, retry_after=2.0), 1)
    assert (decision.action, decision.delay_s, decision.retry_after) == ("retry", 2.0, True)


def test_a_retry_after_over_the_cap_sends_the_request_elsewhere():
    decision = RetryPolicy(retry_after_cap_s=5).decide(
        BackendHTTPError(status=429, retry_after=120.0), 1
    )
    assert decision.action == "fallback"
    assert "Retry-After 120s exceeds the 5s cap" in decision.why


def test_no_retry_once_the_retries_are_spent():
    policy = RetryPolicy(max_retries=2, rng=lambda: 0.0)
    error = BackendHTTPError(status=503)
    assert [policy.decide(error, n).action for n in (1, 2, 3)] == ["retry", "retry", "fallback"]
    assert policy.decide(error, 3).why == "no retries left"


def test_a_refused_connection_is_left_at_once_when_another_backend_can_answer():
    policy = RetryPolicy()
    refused = BackendUnavailable("ollama: cannot reach http://127.0.0.1:9 (connection refused)")
    assert policy.decide(refused, 1, last_resort=False).action == "fallback"
    assert policy.decide(refused, 1, last_resort=True).action == "retry"
    assert (
        RetryPolicy(retry_connect_failures=True).decide(refused, 1, last_resort=False).action
        == "retry"
    )


def test_a_refusal_is_found_in_the_context_and_in_exception_groups():
    try:
        try:
            raise OSError("All connection attempts failed") from BaseExceptionGroup(
                "multi", [ConnectionRefusedError(111, "refused")]
            )
        except OSError:
            raise BackendUnavailable("ollama: cannot reach host") from None
    except BackendUnavailable as exc:
        error = exc
    assert is_connect_failure(error)
    assert not is_connect_failure(BackendUnavailable("connection reset by peer"))


def test_outages_and_misconfiguration_count_against_the_breaker_but_bad_requests_do_not():
    assert counts_against_breaker(BackendHTTPError(status=503))
    assert counts_against_breaker(BackendUnavailable("down"))
    assert counts_against_breaker(BackendHTTPError(status=401))
    assert counts_against_breaker(ModelNotFound("no such model"))
    assert not counts_against_breaker(BackendHTTPError(status=400))
    assert not counts_against_breaker(BackendHTTPError(status=422))
    assert not counts_against_breaker(ContextTooLong("too long", status=400))


def test_descriptions_name_the_status_and_the_backend_without_repeating_themselves():
    assert describe(BackendHTTPError(status=503), "ollama") == "HTTP 503 from ollama"
    assert describe(BackendTimeout("slow"), "x") == "timeout from x: slow"


def test_a_slow_timeout_falls_back_at_once_when_another_backend_can_answer():
    from agentcore.errors import BackendTimeout
    from agentcore.retry import RetryPolicy

    stalled = BackendTimeout("ollama: no first byte within 30s", waited_s=30)
    policy = RetryPolicy()
    assert policy.decide(stalled, 1, last_resort=False).action == "fallback"
    assert policy.decide(stalled, 1, last_resort=True).action == "retry"
    quick = BackendTimeout("ollama: no connection within 3s")
    assert policy.decide(quick, 1, last_resort=False).action == "retry"
