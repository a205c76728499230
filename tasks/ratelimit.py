"""A per-user sliding-window limit on chat messages (process-local)."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class RateLimiter:
    """Allow `count` events per `seconds` per key; `hit` says whether one more is allowed."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds
        self._hits: dict[object, deque[float]] = defaultdict(deque)

    @classmethod
    def parse(cls, spec: str) -> RateLimiter:
        count, _, seconds = spec.partition("/")
        return cls(int(count), float(seconds or 60))

    def hit(self, key: object, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        window = self._hits[key]
        while window and window[0] <= now - self.seconds:
            window.popleft()
        if len(window) >= self.count:
            return False
        window.append(now)
        return True
