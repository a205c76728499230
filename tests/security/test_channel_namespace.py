"""Two deployments on one Redis server never hear each other's run events.

Redis pub/sub ignores the database number, so the channel layer's prefix is what keeps
deployments apart. Each deployment's layer is configured by the real settings module (in a
child process, with its own DATABASE_URL) and used on real Redis.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TASKWEB_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
pytestmark = pytest.mark.redis


def layer_config(database_url: str, **extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, **extra}
    code = "import json, taskweb.settings as s; print(json.dumps(s.CHANNEL_LAYERS['default']))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def layer(config: dict):
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(**config["CONFIG"])


async def heard(listener, speaker, group: str = "conversation-1") -> bool:
    channel = await listener.new_channel()
    await listener.group_add(group, channel)
    await asyncio.sleep(0.2)  # the subscription is in place before anyone speaks
    await speaker.group_send(group, {"type": "run.event", "event": {"run_id": "7"}})
    try:
        await asyncio.wait_for(listener.receive(channel), timeout=1.0)
    except asyncio.TimeoutError:  # 3.10: not yet the builtin TimeoutError
        return False
    finally:
        await listener.group_discard(group, channel)
    return True


@pytest.fixture
def redis_up():
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"no Redis at {REDIS_URL} (required: REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")


async def test_two_databases_are_two_namespaces_on_one_redis(redis_up, tmp_path):
    first = layer_config(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    second = layer_config(f"sqlite:///{tmp_path / 'y.sqlite3'}")
    assert first["CONFIG"]["prefix"] != second["CONFIG"]["prefix"]
    x, x_again, y = layer(first), layer(first), layer(second)
    try:
        assert await heard(x, x_again), "one deployment's processes hear each other"
        assert not await heard(x, y), "deployment Y's run events reached deployment X"
        assert not await heard(y, x)
    finally:
        for each in (x, x_again, y):
            await each.flush()


async def test_the_prefix_can_be_set_for_a_deployment(redis_up, tmp_path):
    config = layer_config(f"sqlite:///{tmp_path / 'x.sqlite3'}", TASKWEB_CHANNEL_PREFIX="blue")
    assert config["CONFIG"]["prefix"] == "blue"
