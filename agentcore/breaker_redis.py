"""A Redis-backed breaker store, so that several daphne processes share one view of a backend.

Without it, each process learns separately that a backend is down, and each one's users pay
for the lesson. Each operation is one Lua script, so it is atomic across processes: two
processes cannot both claim the half-open trial, and no failure count is lost to a race.

The rule for a failure is `agentcore.breaker.apply_failure`, written again in Lua; the tests
run the same scenarios against both stores. Times come from the caller's clock (epoch
seconds), not Redis's, so that tests can drive them.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import redis.asyncio as redis

from .breaker import BreakerRecord

_RECORD_FAILURE = """
local key = KEYS[1]
local failures = tonumber(redis.call('HGET', key, 'failures') or '0') + 1
local open_until = tonumber(redis.call('HGET', key, 'open_until') or '0')
if open_until > 0 or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', key, 'failures', failures, 'open_until', ARGV[2],
             'trial_until', '0', 'last_error', ARGV[3])
else
  redis.call('HSET', key, 'failures', failures, 'last_error', ARGV[3])
end
redis.call('PEXPIRE', key, ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return redis.call('HMGET', key, 'failures', 'open_until', 'trial_until', 'last_error')
"""

_CLAIM_TRIAL = """
local key = KEYS[1]
local open_until = tonumber(redis.call('HGET', key, 'open_until') or '0')
local trial_until = tonumber(redis.call('HGET', key, 'trial_until') or '0')
local now = tonumber(ARGV[1])
if open_until == 0 or now < open_until or trial_until > now then
  return 0
end
redis.call('HSET', key, 'trial_until', ARGV[2])
return 1
"""

_RELEASE_TRIAL = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'trial_until', '0')
end
return 0
"""

_FIELDS = ("failures", "open_until", "trial_until", "last_error")


def _record(values: list[Any]) -> BreakerRecord:
    failures, open_until, trial_until, last_error = values
    return BreakerRecord(
        failures=int(failures or 0),
        open_until=float(open_until or 0),
        trial_until=float(trial_until or 0),
        last_error=str(last_error or ""),
    )


class RedisBreakerStore:
    """Breaker records as Redis hashes under `prefix`, with a set of the names seen."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "taskweb:breaker:",
        record_ttl_s: float = 86400.0,
        url: str | None = None,
    ) -> None:
        """Wrap a client (created with `decode_responses=True`).

        Args:
            client: a `redis.asyncio.Redis`. Its connections belong to the event loop that
                first uses them, so a client given here must stay on one loop (daphne's).
            prefix: key namespace, so tests and deployments can share a database safely.
            record_ttl_s: a record untouched this long expires (the backend is presumed well).
            url: set by `from_url`: then each event loop gets its own client from this URL,
                which management commands that run several `asyncio.run`s need.
        """
        self.client = client
        self.prefix = prefix
        self.record_ttl_ms = int(record_ttl_s * 1000)
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._names_key = f"{prefix}names"
        self._record_failure = client.register_script(_RECORD_FAILURE)
        self._claim_trial = client.register_script(_CLAIM_TRIAL)
        self._release_trial = client.register_script(_RELEASE_TRIAL)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBreakerStore:
        """A store that opens its own connections, e.g. `from_url(os.environ["REDIS_URL"])`."""
        return cls(redis.Redis.from_url(url, decode_responses=True), url=url, **options)

    def _conn(self) -> redis.Redis:
        if self.url is None:
            return self.client
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = redis.Redis.from_url(self.url, decode_responses=True)
        return client

    def _key(self, name: str) -> str:
        return f"{self.prefix}b:{name}"

    async def load(self, name: str) -> BreakerRecord:
        values = await self._conn().hmget(self._key(name), list(_FIELDS))
        return _record(list(values))

    async def names(self) -> list[str]:
        """Names with a live record (expired records are dropped from the set on the way)."""
        client = self._conn()
        members = sorted(str(m) for m in await client.smembers(self._names_key))
        live: list[str] = []
        for name in members:
            if await client.exists(self._key(name)):
                live.append(name)
            else:
                await client.srem(self._names_key, name)
        return live

    async def record_failure(
        self, name: str, *, now: float, threshold: int, cooldown_s: float, error: str
    ) -> BreakerRecord:
        values = await self._record_failure(
            keys=[self._key(name), self._names_key],
            args=[threshold, repr(now + cooldown_s), error, self.record_ttl_ms, name],
            client=self._conn(),
        )
        return _record(list(values))

    async def record_success(self, name: str) -> None:
        client = self._conn()
        await client.delete(self._key(name))
        await client.srem(self._names_key, name)

    async def claim_trial(self, name: str, *, now: float, lease_s: float) -> bool:
        claimed = await self._claim_trial(
            keys=[self._key(name)], args=[repr(now), repr(now + lease_s)], client=self._conn()
        )
        return bool(int(claimed))

    async def release_trial(self, name: str) -> None:
        await self._release_trial(keys=[self._key(name)], client=self._conn())

    async def reset(self, name: str | None = None) -> None:
        client = self._conn()
        names = (
            [name] if name is not None else [str(m) for m in await client.smembers(self._names_key)]
        )
        if names:
            await client.delete(*(self._key(n) for n in names))
            await client.srem(self._names_key, *names)

    async def aclose(self) -> None:
        """Close the connections this store opened on the running loop (from_url stores only)."""
        if self.url is None:
            return
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
