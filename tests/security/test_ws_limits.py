"""Websocket limits with production settings (DEBUG=False): origin, auth, size, rate, runs, caps.

Channels' AllowedHostsOriginValidator trusts localhost only in DEBUG with empty
ALLOWED_HOSTS; these tests run with DEBUG=False so that leniency cannot hide a hole.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from run_helpers import connect, make_conversation, receive_until

from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.models import AgentRun, Message
from tasks.ratelimit import RateLimiter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def production_debug(settings):
    settings.DEBUG = False
    return settings


async def test_a_foreign_origin_is_refused(alice):
    conv = await make_conversation(alice, "builtin")
    for origin in (b"http://evil.example", b"http://localhost.evil.example", b"null"):
        ws, connected, _ = await connect(alice, conv.pk, origin=(b"origin", origin))
        assert not connected, origin


async def test_a_missing_origin_is_refused(alice):
    conv = await make_conversation(alice, "builtin")
    ws, connected, _ = await connect(alice, conv.pk, origin=None)
    assert not connected


async def test_an_allowed_origin_with_a_session_is_accepted(alice):
    conv = await make_conversation(alice, "builtin")
    ws, connected, _ = await connect(alice, conv.pk)
    assert connected
    await ws.disconnect()


class AcceptAll(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()


async def origin_accepted(origin: bytes) -> bool:
    app = AllowedHostsOriginValidator(AcceptAll.as_asgi())
    communicator = WebsocketCommunicator(app, "/ws/", headers=[(b"origin", origin)])
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


async def test_without_debug_localhost_is_trusted_only_when_allowed(settings):
    """What the validator does: DEBUG with no ALLOWED_HOSTS lets localhost in; production not."""
    settings.ALLOWED_HOSTS = ["taskweb.example"]
    assert await origin_accepted(b"https://taskweb.example")
    assert not await origin_accepted(b"http://localhost")
    assert not await origin_accepted(b"https://evil.example")
    settings.ALLOWED_HOSTS = []
    assert not await origin_accepted(b"http://localhost")
    settings.DEBUG = True
    assert await origin_accepted(b"http://localhost")  # the debug leniency these tests avoid


async def test_an_unauthenticated_client_is_refused(alice):
    conv = await make_conversation(alice, "builtin")
    ws, connected, code = await connect(None, conv.pk)
    assert not connected and code == 4403


async def test_a_frame_over_64_kib_is_refused_with_a_clear_error(alice):
    conv = await make_conversation(alice, "builtin")
    ws, _, _ = await connect(alice, conv.pk)
    frame = json.dumps({"type": "user_message", "message": "x" * (64 * 1024)})
    assert len(frame.encode()) > django_settings.TASKWEB_MAX_FRAME_BYTES
    await ws.send_to(text_data=frame)
    reply = json.loads(await ws.receive_from(timeout=5))
    assert reply["type"] == "error" and reply["code"] == "frame_too_large"
    assert "64 KiB" in reply["message"]
    await ws.send_to(bytes_data=b"\xff" * (65 * 1024))
    assert json.loads(await ws.receive_from(timeout=5))["code"] == "frame_too_large"
    assert not await Message.objects.filter(conversation=conv).aexists()
    await ws.disconnect()


async def test_the_per_user_rate_limit_gives_a_clear_error_and_spares_other_users(
    alice, bob, scripted_route
):
    gate = asyncio.Event()

    async def slow(request, info):
        await gate.wait()
        return "done"

    allowed = RateLimiter.parse(django_settings.TASKWEB_RATE_LIMIT).count
    conv = await make_conversation(alice, scripted_route(ScriptedBackend(slow)))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "first"})
    await receive_until(ws, last="model_request")
    for _ in range(allowed - 1):  # counted even though the run in progress refuses them
        await ws.send_json_to({"message": "again"})
        assert json.loads(await ws.receive_from(timeout=5))["code"] == "run_in_progress"
    await ws.send_json_to({"message": "one too many"})
    reply = json.loads(await ws.receive_from(timeout=5))
    assert reply["code"] == "rate_limited" and "Too many messages" in reply["message"]

    bobs = await make_conversation(bob, scripted_route(ScriptedBackend(["hi bob"])))
    bob_ws, _, _ = await connect(bob, bobs.pk)
    await bob_ws.send_json_to({"message": "hello"})
    assert (await receive_until(bob_ws))[-1]["payload"]["status"] == "completed"
    gate.set()
    await receive_until(ws)
    assert [m.content async for m in Message.objects.filter(conversation=conv, role="user")] == [
        "first"
    ]
    await ws.disconnect()
    await bob_ws.disconnect()


async def test_at_most_k_runs_go_at_once_per_user(alice, scripted_route, settings):
    settings.TASKWEB_MAX_CONCURRENT_RUNS = 1
    gate = asyncio.Event()

    async def slow(request, info):
        await gate.wait()
        return "done"

    route = scripted_route(ScriptedBackend(slow))
    first = await make_conversation(alice, route)
    second = await make_conversation(alice, route)
    ws1, _, _ = await connect(alice, first.pk)
    ws2, _, _ = await connect(alice, second.pk)
    await ws1.send_json_to({"message": "long job"})
    await receive_until(ws1, last="model_request")
    await ws2.send_json_to({"message": "another"})
    reply = json.loads(await ws2.receive_from(timeout=5))
    assert reply["code"] == "too_many_runs" and "maximum number of runs" in reply["message"]
    gate.set()
    await receive_until(ws1)
    await ws2.send_json_to({"message": "now it may"})
    assert (await receive_until(ws2))[-1]["payload"]["status"] == "completed"
    await ws1.disconnect()
    await ws2.disconnect()


async def test_the_step_cap_ends_a_run_as_failed_with_a_clear_error(
    alice, scripted_route, settings
):
    settings.TASKWEB_MAX_STEPS = 2
    backend = ScriptedBackend(lambda req, info: ToolCall(id=f"c{info.index}", name="list_tasks"))
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "loop forever"})
    frames = await receive_until(ws)
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and "step limit of 2 reached" in errors[0]["payload"]["message"]
    assert frames[-1]["payload"]["status"] == "failed"
    assert len(backend.calls) == 2
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.status == "failed" and "step limit" in run.error
    await ws.disconnect()


async def test_the_token_cap_ends_a_run_as_failed_with_a_clear_error(
    alice, scripted_route, settings
):
    settings.TASKWEB_MAX_TOKENS_PER_RUN = 1000
    backend = ScriptedBackend(
        lambda req, info: ToolCall(id=f"c{info.index}", name="list_tasks"), usage=(400, 200)
    )
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "spend tokens"})
    frames = await receive_until(ws)
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and "token cap of 1000 reached" in errors[0]["payload"]["message"]
    assert frames[-1]["payload"]["status"] == "failed"
    assert len(backend.calls) == 2  # 600 tokens, then 1200: stopped before a third call
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.status == "failed" and "token cap" in run.error
    await ws.disconnect()
