"""One owner per run across two daphne processes (PostgreSQL + Redis).

A run started on process A is approved and cancelled from sockets on process B; while it
runs, a message from B in the same conversation is refused (the database allows one running
run per conversation, whichever process asks). The model is a scripted server in this test
process, reached through a backend profile, so both daphnes answer alike.
"""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import ExitStack

import pytest
from test_two_processes import daphne, database, free_port, manage, require_services
from websockets.asyncio.client import connect

from agentcore.messages import ToolCall
from agentcore.testing.server import ScriptedServer

pytestmark = [pytest.mark.live, pytest.mark.postgres, pytest.mark.redis]
REDIS = "redis://127.0.0.1:6379/2"

SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from tasks.models import BackendProfile, Task
from tasks.services import conversation_create
u = get_user_model().objects.create_user("alice", password="alice-pw-123!")
BackendProfile.objects.create(
    name="scripted-upstream", kind="openai_compat", base_url="{url}/v1", model="m",
    first_token_timeout=10, total_timeout=30,
)
c = conversation_create(user=u, route="scripted-upstream")
t1 = Task.objects.create(owner=u, title="first to delete")
t2 = Task.objects.create(owner=u, title="second to delete")
s = SessionStore()
s[SESSION_KEY] = str(u.pk)
s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
s[HASH_SESSION_KEY] = u.get_session_auth_hash()
s.save()
print(c.pk, t1.pk, t2.pk, s.session_key)
"""


async def open_socket(base: str, conversation: str, session: str):
    port = base.rsplit(":", 1)[1]
    return await connect(
        f"ws://127.0.0.1:{port}/ws/chat/{conversation}/?format=json",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": base},
        open_timeout=30,
    )


async def until(ws, kind: str, *, code: str | None = None) -> list[dict]:
    seen = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        seen.append(frame)
        if frame["type"] == kind and (code is None or frame.get("code") == code):
            return seen


def test_approve_cancel_and_one_run_at_a_time_across_two_processes():
    require_services()
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    with ExitStack() as stack:
        task_ids: list[int] = []

        def respond(request, info):
            if info.index in (0, 2):
                return ToolCall(
                    id=f"d{info.index}", name="delete_task", arguments={"task_id": task_ids[0]}
                )
            return "Deleted."

        server = stack.enter_context(ScriptedServer(respond))
        url = stack.enter_context(database(base_env))
        ports = [free_port(), free_port()]
        origins = ",".join(f"http://127.0.0.1:{p}" for p in ports)
        env = {
            **base_env,
            "DATABASE_URL": url,
            "REDIS_URL": REDIS,
            "DJANGO_DEBUG": "1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": origins,
        }
        manage(env, "migrate", "--no-input", "-v0")
        out = manage(env, "shell", "-c", SETUP.replace("{url}", server.url))
        conversation, first, second, session = out.splitlines()[-1].split()
        task_ids.append(int(first))
        a = stack.enter_context(daphne(env, ports[0]))
        b = stack.enter_context(daphne(env, ports[1]))
        asyncio.run(_scenario(a, b, conversation, session, task_ids, int(second)))
        statuses = manage(
            env, "shell", "-c",
            "from tasks.models import AgentRun, Task; "
            "print([r.status for r in AgentRun.objects.order_by('id')], "
            "sorted(Task.objects.values_list('id', flat=True)))",
        )  # fmt: skip
        assert statuses.splitlines()[-1] == f"['completed', 'cancelled'] [{second}]"


async def _scenario(a, b, conversation, session, task_ids, second):
    on_a = await open_socket(a, conversation, session)
    on_b = await open_socket(b, conversation, session)
    await on_a.send(json.dumps({"type": "user_message", "message": "delete the first"}))
    asked = (await until(on_a, "approval_required"))[-1]
    await on_b.send(json.dumps({"type": "user_message", "message": "me too"}))
    refused = (await until(on_b, "error", code="run_in_progress"))[-1]
    assert "still in progress" in refused["message"]
    await on_b.send(
        json.dumps(
            {"type": "approval", "call_id": asked["payload"]["call_id"], "decision": "approve"}
        )
    )
    done = await until(on_a, "run_finished")
    assert done[-1]["payload"]["status"] == "completed"
    assert any(e["type"] == "approval_decision" for e in done)

    task_ids[0] = second
    await on_a.send(json.dumps({"type": "user_message", "message": "delete the second"}))
    await until(on_a, "approval_required")
    await on_b.send(json.dumps({"type": "cancel"}))
    await on_b.send(json.dumps({"type": "cancel"}))
    ended = await until(on_a, "run_finished")
    assert ended[-1]["payload"]["status"] == "cancelled"
    await on_a.close()
    await on_b.close()
