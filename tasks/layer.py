"""A Redis pub/sub channel layer that degrades instead of failing while Redis is away.

Taskweb delivers a run's events to this process's sockets without the layer (`relay.py`);
Redis only carries them to other processes, and carries approvals and cancels to a run's
owner. channels-redis raises from `new_channel` and `group_add` while Redis is unreachable,
which failed every new websocket — builtin runs on one process included. Here those calls
succeed locally, the subscriptions are retried in the background until Redis is back, and
sends are dropped (logged once per outage). redis-py re-subscribes existing subscriptions
by itself when its connection comes back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer  # type: ignore[import-untyped]

from agentcore.compat import timeout

log = logging.getLogger(__name__)

TIMEOUT_S = 2.0
RETRY_S = 1.0


class TolerantPubSubLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    """`RedisPubSubChannelLayer` whose Redis outages cost cross-process delivery only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: set[str] = set()
        """Channel names (group channels too) still to subscribe once Redis answers."""
        self._retrying: asyncio.Task[None] | None = None
        self._down = False

    def _outage(self, what: str, exc: BaseException) -> None:
        if not self._down:
            log.warning("Redis unreachable (%s: %s); cross-process delivery paused", what, exc)
        self._down = True

    def _back(self) -> None:
        if self._down:
            log.warning("Redis reachable again; cross-process delivery resumed")
        self._down = False

    async def _subscribe(self, name: str) -> None:
        layer = self._get_layer()
        try:
            async with timeout(TIMEOUT_S):
                await layer._get_shard(name).subscribe(name)
        except Exception as exc:
            self._outage("subscribe", exc)
            self._pending.add(name)
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        while self._pending:
            await asyncio.sleep(RETRY_S)
            for name in list(self._pending):
                self._pending.discard(name)
                await self._subscribe(name)

    async def new_channel(self, prefix: str = "specific.") -> str:
        layer = self._get_layer()
        channel = f"{layer.prefix}{prefix}{uuid.uuid4().hex}"
        layer.channels[channel] = asyncio.Queue()
        await self._subscribe(channel)
        return channel

    async def group_add(self, group: str, channel: str) -> None:
        layer = self._get_layer()
        group_channel = layer._get_group_channel_name(group)
        layer.groups.setdefault(group_channel, set()).add(channel)
        await self._subscribe(group_channel)

    async def group_discard(self, group: str, channel: str) -> None:
        try:
            async with timeout(TIMEOUT_S):
                await self._get_layer().group_discard(group, channel)
        except Exception as exc:
            self._outage("unsubscribe", exc)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._publish("send", self._get_layer().send(channel, message))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._publish("group_send", self._get_layer().group_send(group, message))

    async def _publish(self, what: str, call: Any) -> None:
        try:
            async with timeout(TIMEOUT_S):
                await call
        except Exception as exc:
            self._outage(what, exc)
            raise
        self._back()
