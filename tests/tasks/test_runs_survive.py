"""Runs survive what happens: disconnects, cancels, and a server that stops mid-run."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from test_consumers import make_conversation
from wsclient import connect, events_until

from agentcore.backends.base import TextDelta
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.models import AgentRun, Message, RunStep, Task
from tasks.workers import runs_interrupt_stale

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_run_goes_on_when_the_browser_disconnects_and_reopening_shows_it(
    alice, scripted_route
):
    gate = asyncio.Event()

    async def slow(request, info):
        if info.index == 0:
            await gate.wait()
            return ToolCall(id="c1", name="create_task", arguments={"title": "Survivor"})
        return "Added Survivor."

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(slow)))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "add survivor"})
    await events_until(ws, last="model_request")
    await ws.disconnect()
    gate.set()
    for _ in range(100):
        run = await AgentRun.objects.aget(conversation=conv)
        if run.status != "running":
            break
        await asyncio.sleep(0.05)
    assert run.status == "completed"
    assert await Task.objects.filter(owner=alice, title="Survivor").aexists()
    again, _, _ = await connect(alice, conv.pk, after=0)
    replayed = await events_until(again)
    assert "tool_call" in [e["type"] for e in replayed]
    await again.disconnect()


async def test_cancel_stops_the_run_closes_the_model_request_and_answers_open_calls(
    alice, scripted_route
):
    closed = asyncio.Event()
    started = asyncio.Event()

    async def endless(request, info):
        try:
            started.set()
            while True:
                yield TextDelta("more ")
                await asyncio.sleep(0.02)
        finally:
            closed.set()

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(endless)))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "talk forever"})
    await asyncio.wait_for(started.wait(), 5)
    await ws.send_json_to({"type": "cancel"})
    events = await events_until(ws)
    assert events[-1]["payload"]["status"] == "cancelled"
    await asyncio.wait_for(closed.wait(), 5)
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.status == "cancelled"
    assert await RunStep.objects.filter(run=run, type="run_finished").aexists()
    await ws.send_json_to({"type": "cancel"})
    reply = json.loads(await ws.receive_from(timeout=5))
    assert reply["code"] == "nothing_running"
    await ws.disconnect()


def test_runs_left_running_by_a_stopped_server_are_closed_as_interrupted(alice):
    from tasks.services import conversation_create, run_create, user_message_create

    conv = conversation_create(user=alice, route="builtin")
    message = user_message_create(conversation=conv, text="delete everything")
    run = run_create(conversation=conv, user_message=message, route="builtin")
    other = conversation_create(user=alice, route="builtin")
    live = run_create(
        conversation=other,
        user_message=user_message_create(conversation=other, text="hi"),
        route="builtin",
    )
    AgentRun.objects.filter(pk=run.pk).update(worker=f"{socket.gethostname()}:{dead_pid()}")
    Message.objects.create(
        conversation=conv,
        run=run,
        role="assistant",
        tool_calls=[{"id": "c9", "name": "list_tasks", "arguments": {}}],
    )
    assert len(runs_interrupt_stale()) == 1
    run.refresh_from_db()
    assert run.status == "interrupted"
    assert run.finished_at is not None
    result = Message.objects.get(conversation=conv, role="tool")
    assert result.tool_call_id == "c9" and "server stopped" in result.content
    note = Message.objects.filter(conversation=conv, role="assistant").last()
    assert "interrupted" in note.content
    steps = list(RunStep.objects.filter(run=run).values_list("type", flat=True))
    assert steps == ["error", "run_finished"], "a page catching up learns of it"
    assert runs_interrupt_stale() == []
    live.refresh_from_db()
    assert live.status == "running", "a run of a live process (this one) is left alone"


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_the_stale_run_command_reports_what_it_closed(alice, capsys):
    call_command("close_stale_runs")
    assert "0 interrupted run(s) closed." in capsys.readouterr().out


async def test_an_abandoned_attempt_is_marked_in_the_transcript_not_glued_on(alice, scripted_route):
    from agentcore.backends.base import BackendInfo
    from agentcore.backends.fallback import FallbackBackend
    from agentcore.errors import BackendTimeout

    def breaks_midway(request, info):
        async def gen():
            yield TextDelta("Half an ")
            raise BackendTimeout("stalled", backend="custom")

        return gen()

    custom = ScriptedBackend(
        breaks_midway, info=BackendInfo(name="custom", kind="scripted", model="ft")
    )
    backup = ScriptedBackend(
        ["The real answer."], info=BackendInfo(name="backup", kind="scripted", model="big")
    )
    conv = await make_conversation(alice, scripted_route(FallbackBackend([custom, backup])))
    ws, _, _ = await connect(alice, conv.pk, fmt=None)
    await ws.send_json_to({"message": "hello"})
    html = ""
    while 'run-summary status-completed" hx-swap-oob' not in html:  # the run_finished swap
        html += await ws.receive_from(timeout=5)
    assert "Abandoned attempt" in html and "<s>Half an </s>" in html
    await ws.disconnect()
    abandoned = await Message.objects.aget(conversation=conv, abandoned=True)
    assert abandoned.content == "Half an "
    final = await Message.objects.filter(
        conversation=conv, role="assistant", abandoned=False
    ).alast()
    assert final.content == "The real answer."
    page = await sync_to_async(_page_text)(alice, conv.pk)
    assert "abandoned attempt" in page and "The real answer." in page


def _page_text(user, conversation_id):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/c/{conversation_id}/").content.decode()


async def test_a_route_changed_in_another_tab_is_the_one_the_next_message_uses(
    alice, scripted_route
):
    """The socket's conversation was read when it opened; the run takes the route stored
    when the message is saved (the page's route form may have changed it since)."""
    first = scripted_route(ScriptedBackend(lambda request, info: "from the first backend"))
    second = scripted_route(ScriptedBackend(lambda request, info: "from the second backend"))
    conv = await make_conversation(alice, first)
    ws, _, _ = await connect(alice, conv.pk)
    from django.test import AsyncClient

    client = AsyncClient()
    await client.aforce_login(alice)
    changed = await client.post(f"/c/{conv.pk}/route/", {"route": second})
    assert changed.status_code in (200, 204, 302), changed.status_code
    await ws.send_json_to({"message": "who answers?"})
    events = await events_until(ws)
    assert events[-2]["payload"]["text"] == "from the second backend"
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.route == second
    await ws.disconnect()
