"""Local-only conversations never send a byte to a cloud profile."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from agentcore.testing.server import ScriptedServer
from tasks.models import AgentRun, BackendProfile, Task
from tasks.runner import execute_run
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)


async def run(conversation):
    events = []

    async def publish(event):
        events.append(event)

    run = await execute_run(conversation, "Add a task to renew my passport", publish=publish)
    return await AgentRun.objects.aget(pk=run.pk), events


async def test_a_local_only_conversation_withholds_the_cloud_fallback_and_says_why(alice):
    with ScriptedServer(["I am the cloud."]) as cloud:
        await BackendProfile.objects.acreate(
            name="cloud-test", kind="openai_compat", base_url=f"{cloud.url}/v1",
            model="gpt-4o-mini", locality="cloud",
        )  # fmt: skip
        conv = await sync_to_async(conversation_create)(
            user=alice, route="cloud-test,builtin", local_only=True
        )
        run_, events = await run(conv)
        assert cloud.requests == [], "the cloud server must receive nothing at all"
    withheld = [e for e in events if e.type == "fallback" and e.payload.backend == "cloud-test"]
    assert withheld and "local-only" in withheld[0].payload.reason
    assert run_.status == "completed" and run_.answered_by == "builtin"
    assert await Task.objects.filter(owner=alice, title__icontains="passport").aexists()


async def test_the_same_route_without_local_only_does_use_the_cloud(alice):
    with ScriptedServer(["I am the cloud.", "I am the cloud."]) as cloud:
        await BackendProfile.objects.acreate(
            name="cloud-test", kind="openai_compat", base_url=f"{cloud.url}/v1",
            model="gpt-4o-mini", locality="cloud",
        )  # fmt: skip
        conv = await sync_to_async(conversation_create)(user=alice, route="cloud-test,builtin")
        run_, _ = await run(conv)
        assert len(cloud.chat_requests) == 1
    assert run_.answered_by == "cloud-test"
