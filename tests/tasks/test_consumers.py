"""The chat websocket through the real ASGI application (origin check, auth, routing)."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from wsclient import connect, events_until

from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.models import AgentRun, Message, RunStep, Task
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)


async def make_conversation(user, route):
    return await sync_to_async(conversation_create)(user=user, route=route)


async def test_a_turn_streams_every_step_in_order_and_persists_it(alice, scripted_route):
    backend = ScriptedBackend(
        [ToolCall(id="c1", name="create_task", arguments={"title": "Buy milk"}), "Added Buy milk."]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    ws, connected, _ = await connect(alice, conv.pk)
    assert connected
    await ws.send_json_to({"type": "user_message", "message": "add buy milk"})
    events = await events_until(ws)
    types = [e["type"] for e in events if e["type"] != "token"]
    assert types == [
        "run_started", "model_request", "model_response", "tool_call", "tool_result",
        "model_request", "model_response", "final", "run_finished",
    ]  # fmt: skip
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert events[-1]["payload"]["status"] == "completed"
    run = await AgentRun.objects.aget()
    steps = [s async for s in RunStep.objects.filter(run=run).order_by("seq")]
    assert [s.type for s in steps] == types
    assert run.status == "completed"
    assert await Task.objects.filter(owner=alice, title="Buy milk").aexists()
    roles = [m.role async for m in Message.objects.filter(conversation=conv).order_by("id")]
    assert roles == ["user", "assistant", "tool", "assistant"]
    await ws.disconnect()


async def test_every_event_is_persisted_before_it_is_sent(alice, scripted_route):
    backend = ScriptedBackend([ToolCall(id="c1", name="list_tasks", arguments={}), "None."])
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "what's on my list?"})
    while True:
        event = json.loads(await ws.receive_from(timeout=5))
        if event["type"] != "token":
            stored = await RunStep.objects.filter(
                run_id=int(event["run_id"]), seq=event["seq"]
            ).aexists()
            assert stored, f"{event['type']} #{event['seq']} was sent before it was stored"
        if event["type"] == "run_finished":
            break
    await ws.disconnect()


async def test_delete_waits_for_approval_and_runs_after_approve(alice, scripted_route):
    task = await Task.objects.acreate(owner=alice, title="Old draft")
    backend = ScriptedBackend(
        [ToolCall(id="d1", name="delete_task", arguments={"task_id": task.pk}), "Deleted."]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"type": "user_message", "message": "delete the old draft"})
    events = await events_until(ws, last="approval_required")
    assert events[-1]["payload"]["call_id"] == "d1"
    assert await Task.objects.filter(pk=task.pk).aexists(), "deleted before approval"
    await ws.send_json_to({"type": "approval", "call_id": "d1", "decision": "approve"})
    rest = await events_until(ws)
    decision = next(e for e in rest if e["type"] == "approval_decision")
    assert decision["payload"]["decision"] == "approve"
    assert not await Task.objects.filter(pk=task.pk).aexists()
    await ws.disconnect()


async def test_a_rejected_delete_changes_nothing_and_tells_the_model(alice, scripted_route):
    task = await Task.objects.acreate(owner=alice, title="Keep me")
    backend = ScriptedBackend(
        [ToolCall(id="d1", name="delete_task", arguments={"task_id": task.pk}), "Kept it."]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "delete keep me"})
    await events_until(ws, last="approval_required")
    await ws.send_json_to({"type": "approval", "call_id": "d1", "decision": "reject"})
    await events_until(ws)
    assert await Task.objects.filter(pk=task.pk).aexists()
    assert "rejected" in backend.calls[1].messages[-1].content
    await ws.disconnect()


async def test_anonymous_users_are_refused(alice):
    conv = await make_conversation(alice, "builtin")
    ws, connected, code = await connect(None, conv.pk)
    assert not connected
    assert code == 4403


async def test_bob_cannot_open_alices_conversation(alice, bob):
    conv = await make_conversation(alice, "builtin")
    ws, connected, code = await connect(bob, conv.pk)
    assert not connected
    assert code == 4403


async def test_a_foreign_origin_is_refused(alice, settings):
    conv = await make_conversation(alice, "builtin")
    ws, connected, _ = await connect(alice, conv.pk, origin=(b"origin", b"http://evil.example"))
    assert not connected


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ('"a string"', "bad_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "user_message", "message": "   "}', "empty_message"),
        (json.dumps({"type": "user_message", "message": "x" * 8001}), "too_long"),
        (json.dumps({"type": "user_message", "message": "x" * 70000}), "frame_too_large"),
        ('{"type": "approval", "call_id": "nope", "decision": "approve"}', "no_such_approval"),
    ],
)
async def test_bad_frames_get_a_clear_error_and_save_nothing(alice, frame, code):
    conv = await make_conversation(alice, "builtin")
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_to(text_data=frame)
    reply = json.loads(await ws.receive_from(timeout=5))
    assert reply == {"type": "error", "code": code, "message": reply["message"]}
    assert reply["message"]
    assert not await Message.objects.filter(conversation=conv).aexists()
    await ws.disconnect()


async def test_a_second_message_during_a_run_is_refused_clearly(alice, scripted_route):
    gate = asyncio.Event()

    async def slow(request, info):
        await gate.wait()
        return "done"

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(slow)))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "first"})
    await events_until(ws, last="model_request")
    await ws.send_json_to({"message": "second"})
    reply = json.loads(await ws.receive_from(timeout=5))
    assert reply["code"] == "run_in_progress"
    gate.set()
    await events_until(ws)
    texts = [m.content async for m in Message.objects.filter(conversation=conv, role="user")]
    assert texts == ["first"]
    await ws.disconnect()


async def test_a_second_tab_sees_the_same_live_steps(alice, scripted_route):
    conv = await make_conversation(alice, scripted_route(ScriptedBackend(["Hello there."])))
    first, _, _ = await connect(alice, conv.pk)
    second, _, _ = await connect(alice, conv.pk)
    await first.send_json_to({"message": "hi"})
    a = await events_until(first)
    b = await events_until(second)
    # Tokens a socket fell behind on are joined into one frame, so compare steps and text.
    steps = [[(e["type"], e["seq"]) for e in tab if e["type"] != "token"] for tab in (a, b)]
    text = ["".join(e["payload"]["text"] for e in tab if e["type"] == "token") for tab in (a, b)]
    assert steps[0] == steps[1] and len(steps[0]) > 3
    assert text[0] == text[1] == "Hello there."
    await first.disconnect()
    await second.disconnect()


async def test_run_events_reach_clients_while_the_database_thread_is_busy(alice, scripted_route):
    """A token must not wait behind database writes: the relay needs no database thread.

    The sync thread is held until the frame arrives; if relaying needed that thread, the
    frame could not arrive and `receive_from` would time out.
    """
    import threading

    from channels.layers import get_channel_layer

    from agentcore.events import Event, Token
    from tasks.fanout import layer_message
    from tasks.runs import group_name

    conv = await make_conversation(alice, scripted_route(ScriptedBackend(["unused"])))
    ws, connected, _ = await connect(alice, conv.pk)
    assert connected
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)())  # thread_sensitive: the DB thread
    token = Event(run_id="1", seq=1, ts=0.0, payload=Token(text="hi"))
    message = {**layer_message(conv.pk, [token]), "origin": "another-process"}
    try:
        await get_channel_layer().group_send(group_name(conv.pk), message)
        assert json.loads(await ws.receive_from(timeout=3))["payload"]["text"] == "hi"
    finally:
        release.set()
        await busy
    await ws.disconnect()


async def test_a_reconnecting_client_catches_up_on_missed_steps(alice, scripted_route):
    conv = await make_conversation(alice, scripted_route(ScriptedBackend(["Hello there."])))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "hi"})
    live = await events_until(ws)
    await ws.disconnect()
    again, _, _ = await connect(alice, conv.pk, after=0)
    replayed = await events_until(again)
    assert [e["seq"] for e in replayed] == [e["seq"] for e in live if e["type"] != "token"]
    await again.disconnect()


async def test_a_model_that_loops_past_the_step_limit_ends_failed_with_every_call_answered(
    alice, scripted_route, settings
):
    settings.TASKWEB_MAX_STEPS = 3
    backend = ScriptedBackend(lambda req, info: ToolCall(id=f"c{info.index}", name="list_tasks"))
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk)
    await ws.send_json_to({"message": "loop"})
    events = await events_until(ws)
    assert any(e["type"] == "error" and e["payload"]["kind"] == "step_limit" for e in events)
    assert events[-1]["payload"]["status"] == "failed"
    calls = [m async for m in Message.objects.filter(conversation=conv, role="assistant")]
    results = {m.tool_call_id async for m in Message.objects.filter(conversation=conv, role="tool")}
    assert {c["id"] for m in calls for c in m.tool_calls} == results
    await ws.disconnect()


async def test_html_clients_get_fragments_for_htmx(alice, scripted_route):
    backend = ScriptedBackend(["<img src=x onerror=alert(1)> done"])
    conv = await make_conversation(alice, scripted_route(backend))
    ws, _, _ = await connect(alice, conv.pk, fmt=None)
    await ws.send_json_to(
        {"message": "<script>alert(1)</script>", "HEADERS": {"HX-Request": "true"}}
    )
    frames = []
    while True:
        frame = await ws.receive_from(timeout=5)
        frames.append(frame)
        if 'id="run-' in frame and "-summary" in frame and "completed" in frame:
            break
    html = "".join(frames)
    assert 'hx-swap-oob="beforeend"' in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    await ws.disconnect()


async def test_the_next_message_right_after_run_finished_is_accepted(alice, scripted_route):
    conv = await make_conversation(alice, scripted_route(ScriptedBackend(["one", "two", "three"])))
    ws, _, _ = await connect(alice, conv.pk)
    for text in ("first", "second", "third"):
        await ws.send_json_to({"message": text})
        events = await events_until(ws)  # an error frame would stop short of run_finished
        assert events[-1]["payload"]["status"] == "completed"
    await ws.disconnect()
