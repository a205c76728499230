"""FallbackBackend: an ordered chain of backends that is itself a backend.

The loop never knows it talks to a chain (pydantic-ai's FallbackModel idea). What the chain
does is reported as `NoticeChunk`s in the stream, which the loop turns into events:

- `attempt` before every request, naming the backend that now answers;
- `retry` before trying the same backend again after a transient failure (after a backoff);
- `skip` for a backend the privacy policy withholds or whose circuit breaker is open;
- `abandon` when a backend failed after its text had reached the caller: that text is void,
  and the chain never retries the same backend (the answer would be duplicated);
- `fallback` when the chain moves on from a failed backend to the next.

A run talks to `for_turn()`: a view of the chain that remembers, for that run only, which
backends failed (or were given up on for unusable answers). The run's next model call skips
them, once saying why, instead of waiting on a stalled server a second time.

The chain only sleeps between retries of one backend; moving to another is immediate, so a
refused connection costs the user milliseconds, not a backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

from ..breaker import BreakerSnapshot, CircuitBreaker, default_breaker, iso
from ..compat import timeout
from ..errors import BackendError, BackendTimeout, ConfigError
from ..retry import RetryPolicy, counts_against_breaker, describe
from .base import Backend, BackendInfo, Chunk, ModelRequest, NoticeChunk, TextDelta

Policy: TypeAlias = Literal["local_only"]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


class NoBackendAvailable(BackendError):
    """Every backend of the chain was withheld or skipped; none was even tried."""

    kind = "no_backend"


@dataclass
class _Outcome:
    """How one backend's turn in the chain ended (filled in by `_attempts`)."""

    answered: bool = False
    error: BackendError | None = None
    attempts: int = 0
    why: str = ""
    """Why the chain stopped retrying, when it could have retried."""


def _closable(stream: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
    """The stream itself when it can be closed (backends are async generators), else a wrapper.

    `aclosing` needs `aclose()`; the `Backend` contract only promises an async iterator.
    """
    if hasattr(stream, "aclose"):
        return cast(AsyncGenerator[Chunk, None], stream)

    async def wrapper() -> AsyncGenerator[Chunk, None]:
        async for chunk in stream:
            yield chunk

    return wrapper()


def _error_data(error: BackendError) -> dict[str, Any]:
    return {"error_kind": error.kind, "status": getattr(error, "status", None)}


class FallbackBackend(Backend):
    """Try backends in order, with retries, a circuit breaker and a local-only policy."""

    def __init__(
        self,
        backends: Sequence[Backend],
        *,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        policy: Policy | None = None,
        idle_timeout: float | None = None,
        sleep: Sleep = asyncio.sleep,
        name: str | None = None,
        turn: bool = False,
    ) -> None:
        """Build a chain.

        Args:
            backends: tried in this order; long-lived, shared with chains derived from this one.
            retry: backoff and retry limits (tests pass tiny delays or a recording `sleep`).
            breaker: per-backend-name circuit breaker; the process-wide `default_breaker()`
                (looked up at request time, so an app may install a Redis one at start-up).
            policy: `"local_only"` never lets a request reach a backend whose locality is cloud.
            idle_timeout: seconds without a chunk after which an attempt counts as timed out;
                a guard for backends that have no network timeouts of their own.
            sleep: awaited between retries of one backend; injectable for tests.
            name: shown in the trace; defaults to the route, names joined by commas.
            turn: this chain serves one run and remembers the backends that failed in it.
        """
        if not backends:
            raise ConfigError("a fallback chain needs at least one backend")
        self.backends: tuple[Backend, ...] = tuple(backends)
        self.retry = retry or RetryPolicy()
        self._breaker = breaker
        self.policy = policy
        self.idle_timeout = idle_timeout
        self.sleep = sleep
        self._turn = turn
        self._failed: dict[str, str] = {}
        """Backends that failed in this run, with why (only when `turn`)."""
        self._said: set[str] = set()
        self._unsaid: list[NoticeChunk] = []
        """Notices to send at the start of the next stream (a give-up decided between calls)."""
        usable = [b for b in self.backends if not self._withheld(b)] or list(self.backends)
        first = usable[0].info
        self.info = BackendInfo(
            name=name or ",".join(b.info.name for b in self.backends),
            kind="fallback",
            model=first.model,
            locality="cloud" if any(b.info.locality == "cloud" for b in usable) else "local",
            price_in_per_mtok=first.price_in_per_mtok,
            price_out_per_mtok=first.price_out_per_mtok,
        )

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker if self._breaker is not None else default_breaker()

    async def breaker_snapshots(self) -> list[BreakerSnapshot]:
        """Breaker state of every backend in the chain, in order (for agent_doctor and the page)."""
        return await self.breaker.snapshot_all([b.info.name for b in self.backends])

    def with_policy(self, policy: Policy | None) -> FallbackBackend:
        """The same chain under another privacy policy (e.g. for a local-only conversation)."""
        return self._derive(self.backends, policy=policy)

    def for_turn(self) -> FallbackBackend:
        """The chain for one run: backends that fail in it are not tried again in it."""
        return self._derive(self.backends, policy=self.policy, turn=True)

    def give_up_on(self, name: str, reason: str) -> str | None:
        """Skip `name` for the rest of this run; the backend that answers next, or None."""
        names = [b.info.name for b in self.backends]
        if not self._turn or name not in names:
            return None
        rest = [
            b
            for b in self.backends[names.index(name) + 1 :]
            if not self._withheld(b) and b.info.name not in self._failed
        ]
        if not rest:
            return None
        self._failed[name] = reason
        self._said.add(name)
        info = self.backends[names.index(name)].info
        self._unsaid.append(
            NoticeChunk(
                "fallback",
                info,
                reason=f"{reason}; falling back to {rest[0].info.name}",
                data={"next": rest[0].info.name},
            )
        )
        return rest[0].info.name

    def _derive(
        self, backends: Sequence[Backend], *, policy: Policy | None, turn: bool = False
    ) -> FallbackBackend:
        return FallbackBackend(
            backends,
            retry=self.retry,
            breaker=self._breaker,
            policy=policy,
            idle_timeout=self.idle_timeout,
            sleep=self.sleep,
            name=self.info.name if turn else None,
            turn=turn,
        )

    def _withheld(self, backend: Backend) -> bool:
        return self.policy == "local_only" and backend.info.locality == "cloud"

    def _next_name(self, index: int) -> str | None:
        for backend in self.backends[index + 1 :]:
            if not self._withheld(backend) and backend.info.name not in self._failed:
                return backend.info.name
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Stream the first backend that answers; raise the last error if none does."""
        summary: list[str] = []
        last_error: BackendError | None = None
        unsaid, self._unsaid = self._unsaid, []
        for notice in unsaid:
            yield notice
        for index, backend in enumerate(self.backends):
            info = backend.info
            if info.name in self._failed:
                why = self._failed[info.name]
                summary.append(f"{info.name}: {why}")
                if info.name not in self._said:
                    self._said.add(info.name)
                    yield NoticeChunk("skip", info, reason=f"skipped: {why}")
                continue
            if self._withheld(backend):
                reason = f"withheld: conversation is local-only, {info.name} is a cloud backend"
                summary.append(f"{info.name}: {reason}")
                yield NoticeChunk("skip", info, reason=reason, data={"policy": self.policy})
                continue
            admission = await self.breaker.admit(info.name)
            if not admission.allowed:
                until = iso(admission.open_until) if admission.open_until else None
                reason = f"skipped: {admission.reason}"
                summary.append(f"{info.name}: {reason}")
                yield NoticeChunk("skip", info, reason=reason, data={"open_until": until})
                continue
            outcome = _Outcome()
            next_name = self._next_name(index)
            async with aclosing(
                self._attempts(
                    backend, request, outcome, trial=admission.trial, last=next_name is None
                )
            ) as chunks:
                async for chunk in chunks:
                    yield chunk
            if outcome.answered:
                return
            error = outcome.error
            assert error is not None  # _attempts either answers or records the error
            last_error = error
            error.backend = error.backend or info.name
            what = describe(error, info.name) + (f"; {outcome.why}" if outcome.why else "")
            if self._turn:
                self._failed[info.name] = f"{describe(error, info.name)} earlier in this run"
            tries = f" ({outcome.attempts} attempts)" if outcome.attempts > 1 else ""
            summary.append(f"{what}{tries}")
            if next_name is not None:
                yield NoticeChunk(
                    "fallback",
                    info,
                    reason=f"{what}; falling back to {next_name}",
                    data={"next": next_name, **_error_data(error)},
                )
        message = "all backends failed: " + "; ".join(summary)
        if last_error is None:
            raise NoBackendAvailable(message, backend=self.info.name)
        last_error.args = (message,)
        raise last_error

    async def _attempts(
        self,
        backend: Backend,
        request: ModelRequest,
        outcome: _Outcome,
        *,
        trial: bool,
        last: bool,
    ) -> AsyncGenerator[Chunk, None]:
        """One backend's turn: attempts and retries until it answers or gives up.

        A half-open trial gets exactly one attempt, and retrying stops as soon as the breaker
        opens, so the chain never argues with its own breaker.
        """
        info = backend.info
        while True:
            outcome.attempts += 1
            attempt = outcome.attempts
            yield NoticeChunk("attempt", info, data={"attempt": attempt})
            streamed = False
            settled = False
            try:
                async with aclosing(_closable(backend.stream(request))) as chunks:
                    while (chunk := await self._next_chunk(chunks, info.name)) is not None:
                        streamed = streamed or isinstance(chunk, TextDelta)
                        yield chunk
                settled = True
                await self.breaker.record_success(info.name)
                outcome.answered = True
                return
            except BackendError as exc:
                settled = True
                error = exc
            finally:
                if not settled and trial:  # cancelled mid-trial: let the next request try
                    await self.breaker.release_trial(info.name)
            outcome.error = error
            state = "closed"
            if counts_against_breaker(error):
                state = await self.breaker.record_failure(info.name, describe(error, info.name))
            if streamed:
                reason = f"{describe(error, info.name)} after the answer had started; discarded"
                yield NoticeChunk("abandon", info, reason=reason, data=_error_data(error))
                return
            decision = self.retry.decide(error, attempt, last_resort=last)
            if decision.action != "retry":
                outcome.why = decision.why
                return
            if trial or state == "open":
                outcome.why = "half-open trial failed" if trial else "circuit opened"
                return
            source = " (Retry-After)" if decision.retry_after else ""
            yield NoticeChunk(
                "retry",
                info,
                reason=(
                    f"{describe(error, info.name)}; retry {attempt}/{self.retry.max_retries} "
                    f"in {round(decision.delay_s, 2):g}s{source}"
                ),
                data={
                    "attempt": attempt,
                    "max_retries": self.retry.max_retries,
                    "delay_s": round(decision.delay_s, 3),
                    **_error_data(error),
                },
            )
            await self.sleep(decision.delay_s)

    async def _next_chunk(self, chunks: AsyncIterator[Chunk], name: str) -> Chunk | None:
        """The next chunk, None at the end; an idle timeout becomes a retryable BackendTimeout."""
        try:
            if self.idle_timeout is None:
                return await anext(chunks)
            async with timeout(self.idle_timeout):
                return await anext(chunks)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise BackendTimeout(
                f"{name}: no output for {self.idle_timeout:g}s", backend=name
            ) from None

    async def aclose(self) -> None:
        """Close every backend of the chain (chains derived from it share them)."""
        for backend in self.backends:
            await backend.aclose()


__all__ = ["FallbackBackend", "NoBackendAvailable", "Policy"]
