"""Isolation in code: Bob reaches none of Alice's conversations, runs, figures or tasks.

Not by HTTP (pages, forms, timeline, stats, exports), not by websocket (connect, approvals,
cancel), and not through any tool call, whatever id or prompt the model is given.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import NoReverseMatch, reverse
from run_helpers import connect, make_conversation, receive_until, run_turn

from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.agent_tools import build_task_tools
from tasks.models import AgentRun, Conversation, Task

pytestmark = pytest.mark.django_db(transaction=True)
SECRET_TITLE = "Alice's secret surprise party"


@pytest.fixture
def alices_world(alice, scripted_route):
    """Alice's task, a conversation with one finished run, and its route."""
    from asgiref.sync import async_to_sync

    task = Task.objects.create(owner=alice, title=SECRET_TITLE, description="cake for bob")
    backend = ScriptedBackend([ToolCall(id="l1", name="list_tasks", arguments={}), "One task."])
    conversation = async_to_sync(make_conversation)(alice, scripted_route(backend))
    run, _ = async_to_sync(run_turn)(conversation, f"Plan: {SECRET_TITLE}")
    conversation.refresh_from_db()
    return {"task": task, "conversation": conversation, "run": AgentRun.objects.get(pk=run.pk)}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_bob_cannot_open_or_write_alices_conversation_over_http(alices_world, bob):
    conv = alices_world["conversation"]
    client = client_for(bob)
    page = client.get(reverse("conversation", args=[conv.pk]))
    assert page.status_code == 404
    assert SECRET_TITLE not in page.content.decode()
    before = (conv.route, conv.local_only)
    changed = client.post(
        reverse("conversation_route", args=[conv.pk]), {"route": "builtin", "local_only": "1"}
    )
    assert changed.status_code == 404
    conv.refresh_from_db()
    assert (conv.route, conv.local_only) == before


def test_bob_cannot_read_alices_run_timeline(alices_world, bob):
    response = client_for(bob).get(reverse("run_detail", args=[alices_world["run"].pk]))
    assert response.status_code == 404
    assert SECRET_TITLE not in response.content.decode()


def test_bobs_own_pages_show_nothing_of_alices(alices_world, bob):
    client = client_for(bob)
    for url in (reverse("chat"), reverse("task_panel")):
        html = client.get(url, follow=True).content.decode()
        assert SECRET_TITLE not in html
        assert "cake for bob" not in html
    assert not Conversation.objects.filter(owner=bob).exists()


def test_bobs_stats_and_exports_count_none_of_alices_runs(alices_world, bob):
    try:
        stats_url = reverse("stats")
        export_url = reverse("stats_export", args=["runs", "json"])
    except NoReverseMatch:
        pytest.skip("/stats/ and its exports do not exist yet")
    client = client_for(bob)
    for scope in ("mine", "all"):  # asking for everyone's is a staff privilege
        page = client.get(stats_url, {"period": "all", "scope": scope})
        assert page.status_code == 200
        assert page.context["figures"].runs == 0
        html = page.content.decode()
        assert SECRET_TITLE not in html
        for what in ("runs", "steps"):
            url = reverse("stats_export", args=[what, "json"])
            body = json.loads(client.get(url, {"period": "all", "scope": scope}).content)
            assert body[what] == [], f"bob's {what} export with scope={scope}"
            csv = client.get(reverse("stats_export", args=[what, "csv"]), {"scope": scope})
            assert SECRET_TITLE not in b"".join(csv.streaming_content).decode()
    alice_export = client_for(alices_world["conversation"].owner).get(export_url, {"period": "all"})
    assert len(json.loads(alice_export.content)["runs"]) == 1  # the export does work


def test_anonymous_visitors_are_sent_to_log_in(alices_world):
    client = Client()
    urls = [
        reverse("chat"),
        reverse("conversation", args=[alices_world["conversation"].pk]),
        reverse("run_detail", args=[alices_world["run"].pk]),
        reverse("task_panel"),
    ]
    with contextlib.suppress(NoReverseMatch):
        urls += [reverse("stats"), reverse("stats_export", args=["runs", "csv"])]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    post = client.post(reverse("conversation_route", args=[alices_world["conversation"].pk]))
    assert post.status_code == 302


def test_bob_who_is_not_staff_cannot_open_the_admin(alices_world, bob):
    response = client_for(bob).get(reverse("admin:tasks_task_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


async def test_bob_cannot_connect_to_alices_conversation(alices_world, bob, settings):
    settings.DEBUG = False
    ws, connected, code = await connect(bob, alices_world["conversation"].pk)
    assert not connected and code == 4403


async def test_bob_cannot_approve_or_cancel_alices_waiting_run(alice, bob, scripted_route):
    task = await Task.objects.acreate(owner=alice, title=SECRET_TITLE)
    backend = ScriptedBackend(
        [ToolCall(id="del-1", name="delete_task", arguments={"task_id": task.pk}), "Deleted."]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    alice_ws, _, _ = await connect(alice, conv.pk)
    await alice_ws.send_json_to({"type": "user_message", "message": "delete it"})
    await receive_until(alice_ws, last="approval_required")

    bobs = await make_conversation(bob, "builtin")
    bob_ws, connected, _ = await connect(bob, bobs.pk)
    assert connected
    await bob_ws.send_json_to({"type": "approval", "call_id": "del-1", "decision": "approve"})
    assert json.loads(await bob_ws.receive_from(timeout=5))["code"] == "no_such_approval"
    await bob_ws.send_json_to({"type": "cancel"})
    assert json.loads(await bob_ws.receive_from(timeout=5))["code"] == "nothing_running"
    assert await alice_ws.receive_nothing(timeout=0.2)
    assert await Task.objects.filter(pk=task.pk).aexists()

    await alice_ws.send_json_to({"type": "approval", "call_id": "del-1", "decision": "reject"})
    frames = await receive_until(alice_ws)
    assert frames[-1]["payload"]["status"] == "completed"
    assert await Task.objects.filter(pk=task.pk).aexists()
    await alice_ws.disconnect()
    await bob_ws.disconnect()


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("get_task", {}),
        ("update_task", {"title": "pwned by bob", "status": "done", "priority": "low"}),
        ("complete_task", {}),
        ("delete_task", {}),
    ],
)
async def test_a_tool_call_naming_alices_task_id_finds_no_task(alice, bob, name, arguments):
    task = await Task.objects.acreate(owner=alice, title=SECRET_TITLE, priority="high")
    tools = await sync_to_async(build_task_tools)(bob)
    tool = tools.get(name)
    outcome = await tools.execute(tool, {"task_id": task.pk, **arguments})
    assert outcome.error == f"no task with id {task.pk}"
    await task.arefresh_from_db()
    assert (task.title, task.status, task.priority) == (SECRET_TITLE, "open", "high")


async def test_bobs_scripted_model_naming_alices_ids_changes_nothing_even_when_approved(
    alice, bob, scripted_route
):
    task = await Task.objects.acreate(owner=alice, title=SECRET_TITLE)
    backend = ScriptedBackend(
        [
            [
                ToolCall(id="g", name="get_task", arguments={"task_id": task.pk}),
                ToolCall(id="u", name="update_task", arguments={"task_id": task.pk, "title": "x"}),
                ToolCall(id="c", name="complete_task", arguments={"task_id": task.pk}),
                ToolCall(id="d", name="delete_task", arguments={"task_id": task.pk}),
                ToolCall(id="l", name="list_tasks", arguments={"status": "all", "query": "secret"}),
            ],
            "Done.",
        ]
    )
    conv = await make_conversation(bob, scripted_route(backend))

    async def approve(call) -> bool:
        return True

    run, events = await run_turn(conv, f"Work on task {task.pk}", approve=approve)
    results = {e.payload.call_id: e.payload for e in events if e.type == "tool_result"}
    for call_id in "gucd":
        assert results[call_id].error == f"no task with id {task.pk}"
    assert results["l"].value == {"tasks": [], "count": 0}
    assert SECRET_TITLE not in json.dumps([e.to_dict() for e in events], default=str)
    await task.arefresh_from_db()
    assert (task.title, task.status) == (SECRET_TITLE, "open")


@pytest.mark.parametrize(
    "prompt",
    [
        "Show task {id}",
        "Complete task {id}",
        "Mark task #{id} as done",
        "Delete task {id}",
        "Rename task {id} to hacked",
        "Show me alice's tasks",
        "What's on my list? Include every user's tasks.",
    ],
)
async def test_bob_asking_the_builtin_engine_for_alices_task_gets_nothing(alice, bob, prompt):
    task = await Task.objects.acreate(owner=alice, title=SECRET_TITLE)
    conv = await make_conversation(bob, "builtin")

    async def approve(call) -> bool:
        return True

    run, events = await run_turn(conv, prompt.format(id=task.pk), approve=approve)
    assert SECRET_TITLE not in json.dumps([e.payload for e in events], default=str)
    await task.arefresh_from_db()
    assert (task.title, task.status) == (SECRET_TITLE, "open")
