"""Runs under faults, through the real ASGI app: cancels, approvals, reconnects, bad frames.

Each test injects one fault and checks what the client saw against what the database holds:
nothing announced that was not stored, every run in a final state.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from asgiref.sync import sync_to_async
from test_consumers import make_conversation
from wsclient import connect, events_until

from agentcore.events import Event, Token
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.models import AgentRun, Message, RunStep, Task

pytestmark = pytest.mark.django_db(transaction=True)


class WriteLock:
    """Another client holding the database's write lock (SQLite) or the tables' (PostgreSQL)."""

    def __init__(self, tables=("tasks_task", "tasks_runstep", "tasks_message")):
        self.tables = tables
        self.conn = None

    def take(self):
        from django.db import connection

        settings = connection.settings_dict
        if connection.vendor == "sqlite":
            import sqlite3

            self.conn = sqlite3.connect(
                settings["NAME"], timeout=5, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            self.conn = psycopg.connect(
                host=settings["HOST"] or "127.0.0.1",
                port=settings["PORT"] or 5432,
                user=settings["USER"],
                dbname=settings["NAME"],
            )
            self.conn.execute(f"LOCK TABLE {', '.join(self.tables)} IN EXCLUSIVE MODE")

    def release(self):
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.rollback()
            finally:
                conn.close()


async def stored_steps(run_id):
    return [(s.pk, s.seq, s.type) async for s in RunStep.objects.filter(run_id=run_id)]


async def assert_everything_seen_was_stored(events):
    for event in events:
        if event["type"] != "token" and "run_id" in event:  # not a client-only notice
            assert (
                event["step"]
                == (await RunStep.objects.aget(run_id=int(event["run_id"]), seq=event["seq"])).pk
            ), f"{event['type']} #{event['seq']} was announced but not stored"


async def wait_for_status(conv, status="running", tries=200):
    for _ in range(tries):
        run = await AgentRun.objects.filter(conversation=conv).alast()
        if run is not None and run.status != status:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError("the run never ended")


async def test_two_cancels_back_to_back_leave_the_run_cancelled_not_running(alice, scripted_route):
    started = asyncio.Event()

    async def endless(request, info):
        from agentcore.backends.base import TextDelta

        started.set()
        while True:
            yield TextDelta("more ")
            await asyncio.sleep(0.01)

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(endless)))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "talk"})
    await asyncio.wait_for(started.wait(), 5)
    await ws.send_json_to({"type": "cancel"})
    await ws.send_json_to({"type": "cancel"})
    events = await events_until(ws)
    assert events[-1]["payload"]["status"] == "cancelled"
    run = await wait_for_status(conv)
    assert run.status == "cancelled"
    assert [t for _, _, t in await stored_steps(run.pk)][-2:] == ["error", "run_finished"]
    await assert_everything_seen_was_stored(events)
    await ws.disconnect()


async def test_a_cancel_during_a_tool_call_waits_for_the_tool_and_records_its_result(
    alice, scripted_route
):
    lock = WriteLock()

    taken = asyncio.Event()

    def respond(request, info):
        if info.index == 0:
            lock.take()  # the tool's write (and the step writer's) waits for the database
            taken.set()
            return ToolCall(id="c1", name="create_task", arguments={"title": "Raced"})
        return "Added."

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(respond)))
    ws, _, _ = await connect(alice, conv.pk)
    try:
        await ws.send_json_to({"message": "add raced"})
        await asyncio.wait_for(taken.wait(), 5)
        await asyncio.sleep(0.3)  # the loop is now inside the tool call
        await ws.send_json_to({"type": "cancel"})
        await asyncio.sleep(0.1)
    finally:
        lock.release()
    events = await events_until(ws, timeout=20)
    assert events[-1]["payload"]["status"] == "cancelled"
    result = next(e for e in events if e["type"] == "tool_result")
    assert result["payload"]["error"] is None, "the tool ran: its real result is recorded"
    assert not [e for e in events if e["type"] == "model_request" and e["seq"] > result["seq"]]
    assert await Task.objects.filter(owner=alice, title="Raced").aexists()
    tool = await Message.objects.aget(conversation=conv, role="tool")
    assert '"Raced"' in tool.content and not tool.content.startswith("Error")
    await assert_everything_seen_was_stored(events)
    await ws.disconnect()


async def test_an_unanswered_approval_expires_as_rejected_and_the_run_goes_on(
    alice, scripted_route, settings
):
    settings.TASKWEB_APPROVAL_TIMEOUT_S = 0.3
    task = await Task.objects.acreate(owner=alice, title="Keep me")
    backend = ScriptedBackend(
        [ToolCall(id="d1", name="delete_task", arguments={"task_id": task.pk}), "Not deleted."]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "delete keep me"})
    events = await events_until(ws)
    asked = next(e for e in events if e["type"] == "approval_required")
    assert asked["payload"]["expires_at"] is not None
    decision = next(e for e in events if e["type"] == "approval_decision")
    assert decision["payload"]["decision"] == "reject"
    assert "expired" in decision["payload"]["reason"]
    assert events[-1]["payload"]["status"] == "completed"
    assert await Task.objects.filter(pk=task.pk).aexists()
    await ws.disconnect()


async def test_a_reloaded_page_shows_the_pending_approval_and_it_can_be_answered_there(
    alice, scripted_route
):
    task = await Task.objects.acreate(owner=alice, title="Old draft")
    backend = ScriptedBackend(
        [ToolCall(id="d9", name="delete_task", arguments={"task_id": task.pk}), "Deleted."]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    first, _, _ = await connect(alice, conv.pk)
    await first.send_json_to({"message": "delete the old draft"})
    await events_until(first, last="approval_required")
    await first.disconnect()  # the tab is closed or reloaded

    page = await sync_to_async(page_html)(alice, conv.pk)
    assert 'id="approval-d9"' in page and 'name="decision" value="approve"' in page
    assert 'class="msg assistant streaming"' in page, "the running answer has its bubble"
    cursor = int(re.search(r'id="ws-cursor" data-step="(\d+)"', page).group(1))

    reloaded, _, _ = await connect(alice, conv.pk, after=cursor)
    await reloaded.send_json_to({"type": "approval", "call_id": "d9", "decision": "approve"})
    rest = await events_until(reloaded)
    assert rest[0]["type"] == "approval_decision", "nothing replayed before the cursor"
    assert rest[-1]["payload"]["status"] == "completed"
    assert not await Task.objects.filter(pk=task.pk).aexists()
    await reloaded.disconnect()


def page_html(user, conversation_id):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/c/{conversation_id}/").content.decode()


@pytest.mark.parametrize("seen", [1, 3, 5])
async def test_a_json_client_reconnecting_after_n_events_gets_the_rest_once(
    alice, scripted_route, seen
):
    gate = asyncio.Event()

    async def respond(request, info):
        if info.index == 1:
            await gate.wait()
        if info.index < 2:
            return ToolCall(id=f"c{info.index}", name="create_task", arguments={"title": "T"})
        return "Done."

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(respond)))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "add two"})
    got = []
    while len([e for e in got if e["type"] != "token"]) < seen:
        got.append(json.loads(await ws.receive_from(timeout=5)))
    await ws.disconnect()
    gate.set()
    run = await wait_for_status(conv)
    cursor = max(e["step"] for e in got if e.get("step") is not None)
    again, _, _ = await connect(alice, conv.pk, after=cursor)
    rest = await events_until(again)
    await again.disconnect()
    seen_steps = [e["step"] for e in got + rest if e["type"] != "token"]
    assert seen_steps == [pk for pk, _, _ in await stored_steps(run.pk)], "no gap, no duplicate"


async def test_an_html_page_reconnecting_after_its_cursor_gets_each_step_once(
    alice, scripted_route
):
    gate = asyncio.Event()

    async def respond(request, info):
        if info.index == 1:
            await gate.wait()
            return "All done."
        return ToolCall(id="c0", name="create_task", arguments={"title": "T"})

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(respond)))
    ws, _, _ = await connect(alice, conv.pk, fmt=None)
    await ws.send_json_to({"message": "add one"})
    html = ""
    while 'class="step step-tool_result' not in html:
        html += await ws.receive_from(timeout=5)
    await ws.disconnect()
    gate.set()
    run = await wait_for_status(conv)
    cursor = max(int(c) for c in re.findall(r'id="ws-cursor" data-step="(\d+)"', html))
    again, _, _ = await connect(alice, conv.pk, fmt=None, after=cursor)
    rest = ""
    while "run-summary status-completed" not in rest:
        rest += await again.receive_from(timeout=5)
    await again.disconnect()
    steps = re.findall(rf'<li id="step-{run.pk}-(\d+)"', html + rest)
    stored = [
        seq
        for _, seq, kind in await stored_steps(run.pk)
        if kind not in ("run_started", "run_finished")
    ]
    assert [int(s) for s in steps] == stored, "each trace step once, in order"
    assert "working…" not in rest, "the user bubble and the working answer are not repeated"
    assert f'id="answer-{run.pk}-text" hx-swap-oob="innerHTML">All done.' in rest


async def test_an_answer_with_400_tool_calls_runs_16_and_tells_the_model_why(alice, scripted_route):
    calls = [
        ToolCall(id=f"c{i}", name="create_task", arguments={"title": f"t{i}"}) for i in range(400)
    ]
    conv = await make_conversation(alice, scripted_route(ScriptedBackend([calls, "Enough."])))
    ws, _, _ = await connect(alice, conv.pk, fmt=None)
    await ws.send_json_to({"message": "make 400 tasks"})
    html = ""
    while "run-summary status-completed" not in html:
        html += await ws.receive_from(timeout=10)
    await ws.disconnect()
    assert await Task.objects.filter(owner=alice).acount() == 16
    assert "384 of 400 tool calls not run" in html
    rows = re.findall(r'<ul id="task-list" hx-swap-oob="beforeend"><li id="task-(\d+)"', html)
    created = [t.pk async for t in Task.objects.filter(owner=alice).order_by("pk")]
    assert sorted(int(r) for r in rows) == created, "each new task's row once, no whole panel"
    assert 'id="task-panel"' not in html
    refused = Message.objects.filter(conversation=conv, role="tool", content__contains="not run")
    assert await refused.acount() == 384, "every call is answered, so the history stays valid"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 60000, "too_deep"),
        ('{"type": "approval", "call_id": ' + "9" * 5000 + "}", "bad_json"),
        ('{"message": ' + "[" * 9 + "]" * 9 + "}", "too_deep"),
    ],
)
async def test_hostile_frames_get_a_clear_error_and_the_socket_stays_open(alice, frame, code):
    conv = await make_conversation(alice, "builtin")
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_to(text_data=frame)
    assert json.loads(await ws.receive_from(timeout=5))["code"] == code
    await ws.send_json_to({"type": "cancel"})
    assert json.loads(await ws.receive_from(timeout=5))["code"] == "nothing_running"
    await ws.disconnect()


async def test_a_cursor_of_5000_digits_is_refused_clearly(alice):
    conv = await make_conversation(alice, "builtin")
    ws, connected, _ = await connect(alice, conv.pk, after="9" * 5000)
    assert connected
    assert json.loads(await ws.receive_from(timeout=5))["code"] == "bad_after_step"
    await ws.disconnect()


async def test_a_user_gets_a_clear_refusal_past_the_socket_cap(alice, settings):
    settings.TASKWEB_MAX_SOCKETS_PER_USER = 2
    conv = await make_conversation(alice, "builtin")
    open_ = [(await connect(alice, conv.pk))[0] for _ in range(2)]
    extra, _, _ = await connect(alice, conv.pk)
    assert json.loads(await extra.receive_from(timeout=5))["code"] == "too_many_sockets"
    assert (await extra.receive_output(timeout=5))["type"] == "websocket.close"
    for ws in open_:
        await ws.disconnect()
    again, _, _ = await connect(alice, conv.pk)
    await again.send_json_to({"type": "cancel"})
    assert json.loads(await again.receive_from(timeout=5))["code"] == "nothing_running"
    await again.disconnect()


async def test_events_of_another_deployment_or_conversation_are_dropped(alice):
    from channels.layers import get_channel_layer

    from tasks.fanout import layer_message
    from tasks.runs import group_name

    conv = await make_conversation(alice, "builtin")
    ws, _, _ = await connect(alice, conv.pk)
    layer = get_channel_layer()

    def message(text, **tags):
        event = Event(run_id="1", seq=1, ts=0.0, payload=Token(text=text))
        return {**layer_message(conv.pk, [event]), "origin": "elsewhere", **tags}

    await layer.group_send(group_name(conv.pk), message("foreign", deployment="other-db"))
    await layer.group_send(group_name(conv.pk), message("wrong", conversation=conv.pk + 1))
    await layer.group_send(group_name(conv.pk), message("ours"))
    assert json.loads(await ws.receive_from(timeout=5))["payload"]["text"] == "ours"
    await ws.disconnect()


async def test_runs_of_a_process_whose_heartbeat_stopped_are_closed_by_another(alice):
    from datetime import timedelta

    from django.utils import timezone

    from tasks import services, workers
    from tasks.models import Worker

    def setup():
        conv = services.conversation_create(user=alice, route="builtin")
        message = services.user_message_create(conversation=conv, text="hi")
        run = services.run_create(conversation=conv, user_message=message, route="builtin")
        Worker.objects.create(name="otherhost:1:dead", seen_at=timezone.now() - timedelta(hours=1))
        Worker.objects.create(name="otherhost:2:live", seen_at=timezone.now())
        AgentRun.objects.filter(pk=run.pk).update(worker="otherhost:1:dead")
        return conv, run

    conv, run = await sync_to_async(setup)()
    live = await sync_to_async(services.conversation_create)(user=alice, route="builtin")
    page = await sync_to_async(page_html)(alice, conv.pk)  # a page open before the restart
    cursor = int(re.search(r'id="ws-cursor" data-step="(\d+)"', page).group(1))
    # The page reconnects to a process that starts up: it sweeps first, then catches up.
    ws, _, _ = await connect(alice, conv.pk, fmt=None, after=cursor)
    html = ""
    while "run-summary status-interrupted" not in html:
        html += await ws.receive_from(timeout=5)
    await ws.disconnect()
    assert "interrupted because the server stopped" in html, "the note, without a reload"
    await run.arefresh_from_db()
    assert run.status == "interrupted"
    closed = await sync_to_async(workers.runs_interrupt_stale)(me="otherhost:2:live")
    assert closed == [] and live.pk


@pytest.fixture
def short_busy_timeout():
    """SQLite waits 0.5 s for a lock instead of 20 s (new connections of every thread)."""
    from django.db import connection, connections

    if connection.vendor != "sqlite":
        pytest.skip("an SQLite lock: this run uses PostgreSQL")
    options = connection.settings_dict["OPTIONS"]
    before = options["timeout"]
    options["timeout"] = 0.5
    async_to_sync_close = sync_to_async(connections.close_all)
    yield async_to_sync_close
    options["timeout"] = before


async def test_an_sqlite_lock_past_the_busy_timeout_fails_the_run_visibly_and_keeps_the_message(
    alice, scripted_route, short_busy_timeout
):
    await short_busy_timeout()  # the database thread reconnects with the short timeout
    gate = asyncio.Event()

    async def respond(request, info):
        await gate.wait()
        return "An answer the database cannot take."

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(respond)))
    other = await make_conversation(alice, "builtin")
    ws, _, _ = await connect(alice, conv.pk)
    ws2, _, _ = await connect(alice, other.pk)
    await ws.send_json_to({"message": "keep this message"})
    await events_until(ws, last="model_request")
    lock = WriteLock()
    await sync_to_async(lock.take, thread_sensitive=False)()
    try:
        gate.set()
        notice = json.loads(await ws.receive_from(timeout=10))
        while notice["type"] == "token":  # not stored, so not held back by the database
            notice = json.loads(await ws.receive_from(timeout=10))
        assert notice["code"] == "run_stopped", notice
        await ws2.send_json_to({"message": "sent while the database is locked"})
        refused = json.loads(await ws2.receive_from(timeout=10))
        assert refused["code"] == "not_saved" and "could not be saved" in refused["message"]
    finally:
        lock.release()
    events = await events_until(ws, timeout=30)
    assert [e["type"] for e in events][-2:] == ["error", "run_finished"]
    assert events[-1]["payload"]["status"] == "failed"
    assert "locked" in events[-2]["payload"]["message"]
    await assert_everything_seen_was_stored(events)
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.status == "failed"
    assert await Message.objects.filter(conversation=conv, content="keep this message").aexists()
    assert not await Message.objects.filter(conversation=other).aexists(), "refused means unsaved"
    await ws.disconnect()
    await ws2.disconnect()


async def test_a_connection_killed_during_a_step_writer_trip_fails_every_run_in_it(
    alice, scripted_route
):
    """PostgreSQL: the trip's connection is terminated while it waits on a lock."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend: run with DATABASE_URL=postgres://...")
    gate = asyncio.Event()

    async def respond(request, info):
        await gate.wait()
        return ToolCall(id=f"c{info.index}", name="list_tasks") if info.index == 0 else "None."

    route = scripted_route(ScriptedBackend(respond))
    route2 = scripted_route(ScriptedBackend(respond))
    convs = [await make_conversation(alice, r) for r in (route, route2)]
    sockets = [(await connect(alice, c.pk))[0] for c in convs]
    for ws in sockets:
        await ws.send_json_to({"message": "what is on my list?"})
        await events_until(ws, last="model_request")
    lock = WriteLock(tables=("tasks_runstep",))
    await sync_to_async(lock.take, thread_sensitive=False)()
    try:
        gate.set()
        victim = await sync_to_async(waiting_backend, thread_sensitive=False)(lock)
        await sync_to_async(lock.conn.execute, thread_sensitive=False)(
            "SELECT pg_terminate_backend(%s)", [victim]
        )
    finally:
        lock.release()
    for conv, ws in zip(convs, sockets, strict=True):
        events = await events_until(ws, timeout=30)
        await assert_everything_seen_was_stored(events)
        run = await AgentRun.objects.aget(conversation=conv)
        assert run.status != "running"
        stored = [t for _, _, t in await stored_steps(run.pk)]
        assert stored[-1] == "run_finished"
        assert run.status == "failed" and "terminating connection" in run.error
        await ws.disconnect()


def waiting_backend(lock, tries=200):
    """The pid of the Django connection blocked on the lock (the step writer's trip)."""
    import time

    for _ in range(tries):
        row = lock.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("no trip waited on the lock")
