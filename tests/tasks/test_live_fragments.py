"""The chat page's live fragments equal what a reload of the page shows.

The run header and summary of a run this process started are rendered from memory (what
the run service knew when it started the run, and the run_finished event's totals), not
from the run's row; these tests hold the two to the page a reload renders from the rows.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from test_consumers import make_conversation
from wsclient import connect

from agentcore.events import ToolResulted
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks import rendering
from tasks.models import AgentRun, RunStep, Task
from tasks.steps import event_from_step

pytestmark = pytest.mark.django_db(transaction=True)


async def html_turn(user, conv, text: str) -> list[str]:
    """The frames an HTML (htmx) tab receives for one turn, up to the run's summary."""
    ws, connected, _ = await connect(user, conv.pk, fmt=None)
    assert connected
    await ws.send_json_to({"message": text})
    frames: list[str] = []
    while not any('class="run-summary status-' in f and "running" not in f for f in frames[-1:]):
        frames.append(await ws.receive_from(timeout=10))
    await ws.disconnect()
    return frames


@sync_to_async
def reloaded_page(user, conv) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/c/{conv.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def element(html: str, pattern: str) -> str:
    """The last match of `pattern` (what the page shows once every fragment is swapped in),
    without the out-of-band attribute a live one carries."""
    found = re.findall(pattern, html, re.S)
    assert found, f"no {pattern!r} in the HTML"
    return str(found[-1]).replace(' hx-swap-oob="true"', "")


def summary_of(html: str, run_id: int) -> str:
    return element(html, rf'<summary id="run-{run_id}-summary".*?</summary>')


async def test_the_live_run_header_and_summary_equal_the_reloaded_page(alice, scripted_route):
    backend = ScriptedBackend(
        [ToolCall(id="c1", name="create_task", arguments={"title": "Buy milk"}), "Added it."],
        usage=(1234, 56),
    )
    conv = await make_conversation(alice, scripted_route(backend))
    frames = await html_turn(alice, conv, "Please add *buy milk* for me")
    live = "".join(frames)
    run = await AgentRun.objects.aget(conversation=conv)
    assert run.status == "completed" and run.input_tokens > 0
    page = await reloaded_page(alice, conv)

    assert summary_of(live, run.pk) == summary_of(page, run.pk)
    assert "completed" in summary_of(live, run.pk)
    assert f"{run.input_tokens}→{run.output_tokens} tok" in summary_of(live, run.pk)
    bubble = rf'<div id="message-{run.user_message_id}".*?</div>\s*</div>'
    assert element(live, bubble) == element(page, bubble)
    assert "<em>buy milk</em>" in element(live, bubble)
    title = r'<h1 id="conversation-title".*?</h1>'
    assert element(live, title) == element(page, title)


async def test_a_run_finished_read_from_the_database_renders_as_the_live_one(alice, scripted_route):
    """Another process's run (or one after a restart) is rendered from its row: the same
    fragment the process that ran it sent from the event's totals."""
    backend = ScriptedBackend(["Nothing to do."], usage=(10, 3))
    conv = await make_conversation(alice, scripted_route(backend))
    frames = await html_turn(alice, conv, "hello")
    finished = await RunStep.objects.filter(run__conversation=conv, type="run_finished").afirst()
    assert finished is not None
    live = next(f for f in frames if f.startswith(f'<summary id="run-{finished.run_id}-summary"'))
    event = event_from_step(finished)
    assert rendering.needs_database(event, conv), "this process no longer holds the run"
    from_row = await sync_to_async(rendering.event_html)(event, conv)
    assert from_row == live


def panel_rows(html: str) -> list[str]:
    return re.findall(r'<li id="task-\d+" class="task .*?</li>', html, re.S)


async def test_a_task_tool_sends_its_row_as_the_reloaded_panel_shows_it(alice, scripted_route):
    backend = ScriptedBackend(
        [
            ToolCall(
                id="c1",
                name="create_task",
                arguments={
                    "title": "Pay <rent>",
                    "priority": "high",
                    "due_date": "2031-05-02",
                    "tags": ["home", "Money"],
                },
            ),
            "Added it.",
        ]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    live = "".join(await html_turn(alice, conv, "add it"))
    task = await Task.objects.aget(owner=alice)
    page = await reloaded_page(alice, conv)
    assert panel_rows(live) == panel_rows(page) and len(panel_rows(page)) == 1
    assert f'id="task-{task.pk}"' in panel_rows(live)[0]
    assert "Pay &lt;rent&gt;" in panel_rows(live)[0] and "#money" in panel_rows(live)[0]
    assert 'id="task-panel"' not in live, "no whole panel per batch"


async def test_a_deleted_task_and_a_completed_one_are_sent_as_their_change(alice, scripted_route):
    keep = await Task.objects.acreate(owner=alice, title="Water plants")
    drop = await Task.objects.acreate(owner=alice, title="Old idea")
    backend = ScriptedBackend(
        [
            [
                ToolCall(id="c1", name="complete_task", arguments={"task_id": keep.pk}),
                ToolCall(id="c2", name="list_tasks", arguments={}),
            ],
            "Done.",
        ]
    )
    conv = await make_conversation(alice, scripted_route(backend))
    live = "".join(await html_turn(alice, conv, "water plants done"))
    page = await reloaded_page(alice, conv)
    done = [row for row in panel_rows(page) if f'id="task-{keep.pk}"' in row]
    assert done and "status-done" in done[0]
    assert panel_rows(live) == done, "the completed task's row only (listing changes nothing)"
    gone = rendering.task_change_html(
        ToolResulted(name="delete_task", value={"deleted": drop.pk, "title": "Old idea"})
    )
    assert f'<li id="task-{drop.pk}" class="task-gone" hidden></li>' in gone
    rejected = ToolResulted(
        name="delete_task", value=None, error="rejected by the user", content="rejected"
    )
    assert rendering.task_change_html(rejected) == ""


@sync_to_async
def add_tasks(user) -> None:
    today = dt.date(2030, 1, 10)
    for title, priority, status, due in [
        ("a", "low", "open", None),
        ("b", "high", "open", None),
        ("c", "medium", "done", today),
        ("d", "medium", "open", today + dt.timedelta(days=30)),
        ("e", "low", "open", today),
        ("f", "high", "open", today),
        ("g", "high", "done", None),
        ("h", "medium", "open", today),
        ("i", "high", "done", today - dt.timedelta(days=400)),
    ]:
        Task.objects.create(owner=user, title=title, priority=priority, status=status, due_date=due)


async def test_the_panel_order_the_page_script_keeps_is_the_order_of_a_reload(alice):
    """The page script sorts a changed row into place by data-order; a reload sorts in SQL.
    The two orders must be one: rows of the reloaded panel are in data-order order."""
    await add_tasks(alice)
    conv = await make_conversation(alice, "builtin")
    page = await reloaded_page(alice, conv)
    keys = re.findall(r'<li id="task-\d+" class="task [^"]*" data-order="([^"]+)"', page)
    titles = re.findall(r'class="task-title"[^>]*>([^<]+)<', page)
    assert len(keys) == 9
    assert keys == sorted(keys)
    assert titles == ["f", "h", "e", "d", "b", "a", "i", "c", "g"]


async def test_live_trace_steps_equal_the_reloaded_trace(alice, scripted_route):
    """Live steps are built from typed payloads, the page's from stored JSON: same markup."""
    backend = ScriptedBackend(
        [
            [
                ToolCall(id="c1", name="create_task", arguments={"title": "<b>Buy</b> & go"}),
                ToolCall(id="c2", name="get_task", arguments={"task_id": 999}),
            ],
            "Added **it**.",
        ],
        usage=(40, 9),
    )
    conv = await make_conversation(alice, scripted_route(backend))
    live = "".join(await html_turn(alice, conv, "add"))
    page = await reloaded_page(alice, conv)
    step = r'<li id="step-\d+-\d+" class="step .*?</li>\n'
    live_steps = re.findall(step, live, re.S)
    assert live_steps == re.findall(step, page, re.S)
    kinds = re.findall(r'class="step step-(\w+)', "".join(live_steps))
    assert kinds == [
        "model_request",
        "model_response",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "model_request",
        "model_response",
        "final",
    ]
    assert (
        "&lt;b&gt;Buy&lt;/b&gt; &amp;amp; go" in live or "&lt;b&gt;Buy&lt;/b&gt; &amp; go" in live
    )
    assert "There is no such task." in live, "the failed call's error in words"
