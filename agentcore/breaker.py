"""A circuit breaker per backend name, with a pluggable store so several processes can share it.

A backend that keeps failing costs every user the time of its failures (a connect timeout, a
few retries) before the chain moves on. The breaker remembers: after `threshold` consecutive
failed attempts the backend is *open* — skipped without a connection — for `cooldown_s`.
Then it is *half-open*: exactly one request may try it (the trial); success closes the
breaker, failure opens it for another cooldown.

What counts as a failure is decided by `agentcore.retry.counts_against_breaker`: every failed
*attempt* that says the backend is unhealthy (so a request that spent two retries counts
three), but not a request the backend rightly refused (too long, malformed).

State lives in a `BreakerStore`. The default is in-process and shared by every conversation
of the process (`default_breaker()`); `agentcore.breaker_redis.RedisBreakerStore` shares it
between daphne processes. Times are epoch seconds from an injectable clock, so that tests
never sleep and processes on one host agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias

from .compat import UTC

BreakerState: TypeAlias = Literal["closed", "open", "half_open"]
Clock: TypeAlias = Callable[[], float]


@dataclass(frozen=True, kw_only=True)
class BreakerRecord:
    """What a store keeps per backend name; the state is derived from it and the clock."""

    failures: int = 0
    """Consecutive failed attempts since the last success."""
    open_until: float = 0.0
    """Epoch seconds when the cooldown ends; 0 while the breaker has not opened."""
    trial_until: float = 0.0
    """Epoch seconds when a claimed half-open trial lapses; 0 when none is in flight."""
    last_error: str = ""

    def state(self, now: float) -> BreakerState:
        if not self.open_until:
            return "closed"
        return "open" if now < self.open_until else "half_open"


def apply_failure(
    record: BreakerRecord, *, now: float, threshold: int, cooldown_s: float, error: str
) -> BreakerRecord:
    """The record after one more failure: open once `threshold` is reached, or again after a trial.

    Stores that cannot run Python atomically (Redis) implement the same rule in their own
    language; the tests run both against the same scenarios.
    """
    failures = record.failures + 1
    if record.open_until or failures >= threshold:
        return BreakerRecord(failures=failures, open_until=now + cooldown_s, last_error=error)
    return replace(record, failures=failures, last_error=error)


class BreakerStore(Protocol):
    """Atomic operations on breaker records; async so that a network store fits."""

    async def load(self, name: str) -> BreakerRecord: ...

    async def names(self) -> list[str]: ...

    async def record_failure(
        self, name: str, *, now: float, threshold: int, cooldown_s: float, error: str
    ) -> BreakerRecord: ...

    async def record_success(self, name: str) -> None: ...

    async def claim_trial(self, name: str, *, now: float, lease_s: float) -> bool:
        """Take the one half-open trial slot if the cooldown is over and no trial is in flight."""
        ...

    async def release_trial(self, name: str) -> None:
        """Give the slot back when a trial ended neither in success nor failure (cancelled)."""
        ...

    async def reset(self, name: str | None = None) -> None: ...


class InMemoryBreakerStore:
    """The per-process store. Its methods never suspend, so each one is atomic on the loop."""

    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}

    async def load(self, name: str) -> BreakerRecord:
        return self._records.get(name, BreakerRecord())

    async def names(self) -> list[str]:
        return sorted(self._records)

    async def record_failure(
        self, name: str, *, now: float, threshold: int, cooldown_s: float, error: str
    ) -> BreakerRecord:
        record = apply_failure(
            self._records.get(name, BreakerRecord()),
            now=now,
            threshold=threshold,
            cooldown_s=cooldown_s,
            error=error,
        )
        self._records[name] = record
        return record

    async def record_success(self, name: str) -> None:
        self._records.pop(name, None)

    async def claim_trial(self, name: str, *, now: float, lease_s: float) -> bool:
        record = self._records.get(name, BreakerRecord())
        if record.state(now) != "half_open" or record.trial_until > now:
            return False
        self._records[name] = replace(record, trial_until=now + lease_s)
        return True

    async def release_trial(self, name: str) -> None:
        if name in self._records:
            self._records[name] = replace(self._records[name], trial_until=0.0)

    async def reset(self, name: str | None = None) -> None:
        if name is None:
            self._records.clear()
        else:
            self._records.pop(name, None)


def iso(epoch: float) -> str:
    """UTC ISO-8601 to the second, as notices and the doctor show it."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class Admission:
    """Whether a request may go to a backend now, and if not, why."""

    allowed: bool
    """False: skip the backend without connecting."""
    trial: bool = False
    """True when this request is the one half-open trial."""
    reason: str = ""
    """Why not, for the skip notice: "circuit open until <ISO time>"."""
    open_until: float | None = None
    """Epoch seconds when the cooldown ends, for a refused admission."""


@dataclass(frozen=True, kw_only=True)
class BreakerSnapshot:
    """One backend's breaker as agent_doctor and the stats page show it."""

    name: str
    """The backend's name, the key the breaker counts by."""
    state: BreakerState
    failures: int
    """Consecutive failed attempts since the last success."""
    open_until: datetime | None
    """UTC end of the current cooldown, or None when the breaker has not opened."""
    last_error: str = ""
    """The last counted failure, as the fallback notice described it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "failures": self.failures,
            "open_until": self.open_until.isoformat() if self.open_until else None,
            "last_error": self.last_error,
        }


class CircuitBreaker:
    """Admits or refuses requests per backend name and learns from their outcomes."""

    def __init__(
        self,
        store: BreakerStore | None = None,
        *,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        trial_lease_s: float = 120.0,
        clock: Clock = time.time,
    ) -> None:
        """Create a breaker.

        Args:
            store: where records live; a fresh in-process store when omitted.
            threshold: consecutive failed attempts that open the breaker.
            cooldown_s: seconds an open breaker refuses requests.
            trial_lease_s: seconds a half-open trial holds its slot if its process dies
                without reporting back; long enough for a slow answer to finish.
            clock: epoch seconds (wall time, so that processes sharing a store agree).
        """
        self.store: BreakerStore = store if store is not None else InMemoryBreakerStore()
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.trial_lease_s = trial_lease_s
        self.clock = clock

    async def admit(self, name: str) -> Admission:
        """Closed: yes. Open: no, until when. Half-open: yes for the first caller only."""
        record = await self.store.load(name)
        now = self.clock()
        state = record.state(now)
        if state == "closed":
            return Admission(allowed=True)
        if state == "open":
            return Admission(
                allowed=False,
                reason=f"circuit open until {iso(record.open_until)}",
                open_until=record.open_until,
            )
        if await self.store.claim_trial(name, now=now, lease_s=self.trial_lease_s):
            return Admission(allowed=True, trial=True)
        return Admission(
            allowed=False,
            reason="circuit half-open and its one trial request is in flight",
            open_until=record.open_until,
        )

    async def record_failure(self, name: str, error: str = "") -> BreakerState:
        """Count one failed attempt; returns the state it leaves the breaker in."""
        now = self.clock()
        record = await self.store.record_failure(
            name, now=now, threshold=self.threshold, cooldown_s=self.cooldown_s, error=error
        )
        return record.state(now)

    async def record_success(self, name: str) -> None:
        await self.store.record_success(name)

    async def release_trial(self, name: str) -> None:
        await self.store.release_trial(name)

    async def reset(self, name: str | None = None) -> None:
        """Forget one backend's failures, or all of them (an operator's "try it now")."""
        await self.store.reset(name)

    async def snapshot(self, name: str) -> BreakerSnapshot:
        record = await self.store.load(name)
        open_until = record.open_until
        return BreakerSnapshot(
            name=name,
            state=record.state(self.clock()),
            failures=record.failures,
            open_until=datetime.fromtimestamp(open_until, UTC) if open_until else None,
            last_error=record.last_error,
        )

    async def snapshot_all(self, names: list[str] | None = None) -> list[BreakerSnapshot]:
        """Every backend with a record (or the given names, closed ones included)."""
        wanted = names if names is not None else await self.store.names()
        return [await self.snapshot(name) for name in wanted]


_default: CircuitBreaker | None = None


def default_breaker() -> CircuitBreaker:
    """The process-wide breaker every chain uses unless given another."""
    global _default
    if _default is None:
        _default = CircuitBreaker()
    return _default


def set_default_breaker(breaker: CircuitBreaker | None) -> None:
    """Install the process-wide breaker, e.g. one on a Redis store at app start-up.

    None forgets it, so the next `default_breaker()` is a fresh in-process one: a test
    fixture's way to keep one test's outages from skipping backends in the next.
    """
    global _default
    _default = breaker
