"""Two daphne processes: a run is published to Redis only once a tab on the other listens.

Process A runs a conversation whose model (a scripted server in this test process) waits
mid-run; nothing reaches Redis for it. A tab on process B then joins with the cursor of a
page that saw the run's first step, and must get every later stored step exactly once, in
order: the ones stored before it joined from its catch-up, the rest live.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from contextlib import ExitStack

import pytest
from test_two_process_runs import SETUP
from test_two_processes import daphne, database, free_port, manage, require_services
from websockets.asyncio.client import connect

from agentcore.messages import ToolCall
from agentcore.testing.server import ScriptedServer

pytestmark = [pytest.mark.live, pytest.mark.postgres, pytest.mark.redis]
REDIS = "redis://127.0.0.1:6379/5"


async def open_socket(base: str, conversation: str, session: str, after: int | None = None):
    port = base.rsplit(":", 1)[1]
    query = "format=json" + (f"&after_step={after}" if after is not None else "")
    return await connect(
        f"ws://127.0.0.1:{port}/ws/chat/{conversation}/?{query}",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": base},
        open_timeout=30,
    )


async def frames_until(ws, kind: str) -> list[dict]:
    seen = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        seen.append(frame)
        if frame.get("type") == kind:
            return seen


def test_a_tab_joining_mid_run_on_another_process_gets_every_later_step_once():
    require_services()
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    prefix = f"fanout{uuid.uuid4().hex[:8]}"
    gate = threading.Event()

    async def respond(request, info):
        if info.index == 0:
            return ToolCall(id="c0", name="list_tasks", arguments={})
        await asyncio.to_thread(gate.wait, 60)  # the run waits here for the tab on B
        return "Your tasks are listed."

    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    with ExitStack() as stack:
        server = stack.enter_context(ScriptedServer(respond))
        url = stack.enter_context(database(base_env))
        ports = [free_port(), free_port()]
        env = {
            **base_env,
            "DATABASE_URL": url,
            "REDIS_URL": REDIS,
            "TASKWEB_CHANNEL_PREFIX": prefix,
            "DJANGO_DEBUG": "1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": ",".join(f"http://127.0.0.1:{p}" for p in ports),
        }
        manage(env, "migrate", "--no-input", "-v0")
        out = manage(env, "shell", "-c", SETUP.replace("{url}", server.url))
        conversation, _, _, session = out.splitlines()[-1].split()
        a = stack.enter_context(daphne(env, ports[0]))
        b = stack.enter_context(daphne(env, ports[1]))
        channel = f"{prefix}__group__conversation-{conversation}"
        seen_b, published_before, published_after = asyncio.run(
            _scenario(a, b, conversation, session, gate, channel)
        )
        stored = manage(
            env, "shell", "-c",
            "from tasks.models import RunStep; "
            "print(list(RunStep.objects.order_by('pk').values_list('pk', flat=True)))",
        )  # fmt: skip
        ids = json.loads(stored.splitlines()[-1])
    assert published_before == 0, "published while no other process listened"
    assert published_after > 0
    steps_b = [f["step"] for f in seen_b if f.get("step") and f["type"] != "token"]
    assert steps_b == ids[1:], "B must get every step after its cursor, once, in order"


async def _scenario(a, b, conversation, session, gate, channel):
    import redis.asyncio

    spy = redis.asyncio.Redis.from_url(REDIS).pubsub()
    await spy.subscribe(channel)
    await spy.get_message(timeout=1)

    async def published() -> int:
        count = 0
        while await spy.get_message(ignore_subscribe_messages=True, timeout=0.5) is not None:
            count += 1
        return count

    on_a = await open_socket(a, conversation, session)
    await on_a.send(json.dumps({"type": "user_message", "message": "what are my tasks?"}))
    early = await frames_until(on_a, "tool_result")
    await asyncio.sleep(0.5)  # the second model call is waiting at the gate
    before = await published()
    first_step = early[0]["step"]
    on_b = await open_socket(b, conversation, session, after=first_step)
    await asyncio.sleep(0.5)  # (A may hear of B now or later: either way B misses nothing)
    gate.set()
    seen_b = await frames_until(on_b, "run_finished")
    await frames_until(on_a, "run_finished")
    try:
        extra = await asyncio.wait_for(on_b.recv(), 1.0)
        seen_b.append(json.loads(extra))  # a duplicate would show in the comparison
    except asyncio.TimeoutError:  # 3.10: not yet the builtin TimeoutError
        pass
    after = await published()
    await on_a.close()
    await on_b.close()
    await spy.aclose()
    return seen_b, before, after
