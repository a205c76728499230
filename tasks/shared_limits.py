"""The per-user message rate limit, shared by every process when Redis is configured.

A fixed window per user in Redis (`INCR` + `EXPIRE`: one round trip, no library needed);
without Redis, or while it is unreachable, each process counts for itself (the in-process
sliding window), so an outage loosens the limit instead of refusing everyone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.conf import settings

from .ratelimit import RateLimiter

log = logging.getLogger(__name__)


class SharedRateLimiter:
    def __init__(self, spec: str, redis_url: str = "") -> None:
        self.local = RateLimiter.parse(spec)
        self.redis_url = redis_url
        self._client: Any = None
        db = settings.DATABASES["default"]
        where = f"{db.get('HOST')}|{db.get('PORT')}|{db.get('NAME')}"
        self.prefix = "taskweb:rate:" + hashlib.sha256(where.encode()).hexdigest()[:12]

    async def hit(self, user: str) -> bool:
        """Count one message of `user` (a stable key); False when it is over the limit."""
        if not self.redis_url:
            return self.local.hit(user)
        try:
            return await self._redis_hit(user)
        except Exception as exc:  # Redis away: count in this process meanwhile
            log.debug("rate limit falls back to this process: %s", exc)
            return self.local.hit(user)

    async def _redis_hit(self, user: str) -> bool:
        import redis.asyncio as redis

        if self._client is None:
            self._client = redis.Redis.from_url(self.redis_url, socket_timeout=1.0)
        window = max(int(self.local.seconds), 1)
        key = f"{self.prefix}:{user}:{int(time.time()) // window}"
        async with self._client.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(key).expire(key, window * 2).execute()
        return int(count) <= self.local.count
