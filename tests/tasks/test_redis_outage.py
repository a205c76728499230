"""Redis goes away and comes back: runs and this process's sockets do not notice.

The test starts a Redis server of its own on a free port (never the shared one), points the
channel layer at it, stops it, and starts it again on the same port.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time

import pytest
from channels.layers import channel_layers, get_channel_layer
from test_consumers import make_conversation
from wsclient import connect, events_until

from agentcore.events import Event, Token
from agentcore.testing import ScriptedBackend
from tasks.fanout import layer_message
from tasks.models import AgentRun
from tasks.runs import group_name

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.live]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def own_redis(settings):
    if shutil.which("redis-server") is None:
        from conftest import require

        require("REQUIRE_SERVICES", "redis-server is not installed")
    server = OwnRedis()
    server.start()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tasks.layer.TolerantPubSubLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{server.port}/2"]},
        }
    }
    channel_layers.backends.clear()
    yield server
    server.stop()
    channel_layers.backends.clear()


async def received_from_elsewhere(ws, conv, text, seconds=15.0) -> bool:
    """Publish as another process would until this socket hears it (or time runs out)."""
    layer = get_channel_layer()
    event = Event(run_id="1", seq=1, ts=0.0, payload=Token(text=text))
    message = {**layer_message(conv.pk, [event]), "origin": "another-process"}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # refused while Redis is still starting
            await layer.group_send(group_name(conv.pk), message)
        if await ws.receive_nothing(timeout=0.5):  # (a timed-out receive would stop the app)
            continue
        frame = json.loads(await ws.receive_from())
        if frame.get("payload", {}).get("text") == text:
            return True
    return False


async def test_runs_and_local_sockets_carry_on_without_redis_and_recover_when_it_returns(
    alice, scripted_route, own_redis
):
    conv = await make_conversation(alice, scripted_route(ScriptedBackend(["First.", "Second."])))
    await get_channel_layer().new_channel()  # the first connection to a fresh server is slow
    before, connected, _ = await connect(alice, conv.pk)
    assert connected
    assert await received_from_elsewhere(before, conv, "via redis")

    own_redis.stop()
    await before.send_json_to({"message": "hello without redis"})
    events = await events_until(before, timeout=15)
    assert events[-1]["payload"]["status"] == "completed"
    during, connected, _ = await connect(alice, conv.pk)
    assert connected, "a new socket opens while Redis is down"
    await during.send_json_to({"message": "and again"})
    assert (await events_until(during, timeout=15))[-1]["payload"]["status"] == "completed"
    assert [r.status async for r in AgentRun.objects.filter(conversation=conv)] == [
        "completed", "completed",
    ]  # fmt: skip

    own_redis.start()
    assert await received_from_elsewhere(during, conv, "back again"), "resubscribed by itself"
    assert await received_from_elsewhere(before, conv, "back for the old one too")
    await before.disconnect()
    await during.disconnect()
