"""When to try a backend again, when to move on to the next one, and how long to wait.

The fallback chain asks two questions of every failure: is it worth trying the *same* backend
again (a refused connection, a 503, a truncated stream may be gone in a moment), and does it
say anything about the backend's health (the circuit breaker should count an outage, not a
request that was simply too long for this model). Both answers live here, as pure functions
of the error, so they are tested without any backend at all.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from .compat import BaseExceptionGroup
from .errors import (
    BackendError,
    BackendHTTPError,
    BackendUnavailable,
    ContextTooLong,
    ModelNotFound,
)

Action: TypeAlias = Literal["retry", "fallback", "fail"]
"""retry: same backend again; fallback: next backend; fail: a bug, not an outage — raise."""

NEVER_RETRY_STATUSES: frozenset[int] = frozenset({400, 401, 403, 404, 422})
"""The same request to the same server gets the same answer; only another backend can help."""

CONFIG_STATUSES: frozenset[int] = frozenset({401, 403, 404})
"""Statuses that say the backend is misconfigured (key, permission, path), not the request."""


def classify(error: BaseException) -> Action:
    """Say what the chain should do about `error`, ignoring how many retries are left.

    Anything that is not a `BackendError` is a bug (in a backend or a test double), so it
    fails loudly instead of being papered over by the next backend.
    """
    if not isinstance(error, BackendError):
        return "fail"
    if isinstance(error, ContextTooLong | ModelNotFound):
        return "fallback"
    if isinstance(error, BackendHTTPError) and error.status in NEVER_RETRY_STATUSES:
        return "fallback"
    return "retry" if error.retryable else "fallback"


def counts_against_breaker(error: BackendError) -> bool:
    """True when `error` says the backend is unhealthy, not that this request was unsuitable.

    Outages (retryable errors) and misconfiguration (401/403/404, a missing model) repeat on
    every request, so skipping the backend for a cooldown saves each user the wait. A context
    overflow or a 400/422 is about one request; the next, shorter one may well succeed.
    """
    if isinstance(error, ContextTooLong):
        return False
    if error.retryable or isinstance(error, ModelNotFound):
        return True
    return isinstance(error, BackendHTTPError) and error.status in CONFIG_STATUSES


def is_connect_failure(error: BaseException) -> bool:
    """True when nothing answered at all: the connection was refused or the host unreachable.

    Such a server is down rather than busy, so a retry a quarter second later rarely helps;
    the chain moves straight on when it has somewhere to go. The HTTP backends raise
    `BackendUnavailable` with the transport error as context, so the chain of causes is read
    (a refusal on every address shows up as an exception group inside it).
    """
    if not isinstance(error, BackendUnavailable):
        return False
    seen: list[BaseException] = [error]
    for exc in seen:
        if len(seen) > 32:
            break
        if isinstance(exc, ConnectionRefusedError | socket.gaierror):
            return True
        if type(exc).__name__ == "ConnectError":  # httpx / httpcore, without importing them
            return True
        if "connection refused" in str(exc).lower():
            return True
        seen.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
        if isinstance(exc, BaseExceptionGroup):
            seen.extend(exc.exceptions)
    return False


def label(error: BackendError) -> str:
    """A short name for an error in notices: `HTTP 503`, `timeout`, `context_too_long`."""
    if isinstance(error, BackendHTTPError) and not isinstance(error, ContextTooLong):
        return f"HTTP {error.status}"
    return error.kind


def describe(error: BackendError, backend: str) -> str:
    """`<label> from <backend>: <message>`, without repeating a message that is just the label."""
    message = str(error).strip()
    # HTTP backends already start their messages with their name: say it once.
    message = message.removeprefix(f"{backend}:").strip()
    text = f"{label(error)} from {backend}"
    return f"{text}: {message}" if message and message != label(error) else text


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    """The verdict on one failed attempt."""

    action: Action
    delay_s: float = 0.0
    """Seconds to wait before the retry (0 unless `action == "retry"`)."""
    why: str = ""
    """Why the chain does not retry, when it could have (e.g. a Retry-After over the cap)."""
    retry_after: bool = False
    """True when the delay is the server's Retry-After rather than our backoff."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, honouring Retry-After up to a cap.

    Defaults suit an interactive chat: at most two retries, a quarter second growing to a few
    seconds, and never more than ten seconds on a server's say-so — past that the next backend
    is a better answer than a spinner.
    """

    max_retries: int = 2
    """Retries of the same backend after its first attempt (0 disables retrying)."""
    base_s: float = 0.25
    """Backoff before the first retry, before jitter."""
    multiplier: float = 2.0
    """Each retry waits this many times longer than the one before."""
    cap_s: float = 4.0
    """No backoff is longer than this."""
    jitter: float = 0.5
    """Fraction of each backoff that is random: delay * (1 - jitter * U[0,1))."""
    retry_after_cap_s: float = 10.0
    """A Retry-After longer than this sends the request to the next backend instead."""
    slow_timeout_s: float = 5.0
    """A timeout after this long is not retried while another backend could answer."""
    retry_connect_failures: bool = False
    """Retry a refused/unreachable backend even when another backend could answer now."""
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    """Source of jitter in [0, 1); tests pass a constant."""

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based), jitter included."""
        raw = min(self.cap_s, self.base_s * self.multiplier ** max(retry - 1, 0))
        return raw * (1.0 - self.jitter * self.rng())

    def decide(
        self, error: BaseException, retry: int, *, last_resort: bool = True
    ) -> RetryDecision:
        """Verdict on a failure, where `retry` is the number the next retry would have.

        `last_resort` is False while another backend could still answer; then a backend that
        refuses connections is left at once instead of being retried.
        """
        action = classify(error)
        if action != "retry":
            return RetryDecision(action=action)
        if retry > self.max_retries:
            return RetryDecision(action="fallback", why="no retries left")
        if not last_resort and not self.retry_connect_failures and is_connect_failure(error):
            return RetryDecision(action="fallback", why="nothing is listening")
        waited = getattr(error, "waited_s", 0.0)
        if not last_resort and waited >= self.slow_timeout_s:
            # The user already sat through a whole timeout: another backend answers sooner
            # than a second wait on this one. (A fast connect timeout is still retried.)
            return RetryDecision(action="fallback", why=f"already waited {waited:g}s")
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.retry_after_cap_s:
                why = f"Retry-After {retry_after:g}s exceeds the {self.retry_after_cap_s:g}s cap"
                return RetryDecision(action="fallback", why=why)
            return RetryDecision(action="retry", delay_s=max(retry_after, 0.0), retry_after=True)
        return RetryDecision(action="retry", delay_s=self.backoff(retry))
