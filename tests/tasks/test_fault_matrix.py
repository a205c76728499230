"""Faults of a real upstream, through the app's runner: one test per fault.

Each run goes agent → FallbackBackend(openai_compat against a ScriptedServer on loopback,
builtin) with short timeouts. For each fault: the retries / fallback / error events, the
run's final state, the persisted steps, and the user's message and tasks intact.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async

from agentcore.backends.builtin import BuiltinBackend
from agentcore.backends.fallback import FallbackBackend
from agentcore.backends.ollama import OllamaBackend
from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.messages import ToolCall
from agentcore.retry import RetryPolicy
from agentcore.specs import Timeouts, parse_spec
from agentcore.testing.faults import (
    context_too_long,
    empty_stream,
    malformed_json,
    rate_limit,
    stall,
    status,
    truncate_stream,
)
from agentcore.testing.server import ScriptedServer
from tasks.models import AgentRun, Message, RunStep, Task
from tasks.runner import execute_run
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)
QUICK = Timeouts(connect=0.5, first_token=0.5, total=1.0)
FAST_RETRY = RetryPolicy(max_retries=1, base_s=0.01, cap_s=0.05)
USER_TEXT = "Add a task to buy milk"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upstream(url: str, kind: str = "openai_compat"):
    suffix = "/v1" if kind == "openai_compat" else ""
    config = replace(
        parse_spec(f"{kind}:task-api-model@{url}{suffix}"), name="custom", timeouts=QUICK
    )
    cls = OpenAICompatBackend if kind == "openai_compat" else OllamaBackend
    return cls.from_config(config)


async def run_chain(alice, scripted_route, first, retry=FAST_RETRY):
    await Task.objects.acreate(owner=alice, title="Existing task")
    chain = FallbackBackend([first, BuiltinBackend()], retry=retry)
    conv = await sync_to_async(conversation_create)(user=alice, route=scripted_route(chain))
    events = []

    async def publish(event):
        events.append(event)

    run = await execute_run(conv, USER_TEXT, publish=publish)
    await first.aclose()
    run = await AgentRun.objects.aget(pk=run.pk)
    steps = [s async for s in RunStep.objects.filter(run=run).order_by("seq")]
    assert [(s.seq, s.type) for s in steps] == [
        (e.seq, e.type) for e in events if e.type != "token"
    ], "every event but tokens is persisted, in order"
    user = await Message.objects.filter(conversation=conv, role="user").aget()
    assert user.content == USER_TEXT, "the user's message is saved whatever happened"
    assert await Task.objects.filter(owner=alice, title="Existing task").aexists()
    return run, events


def of(events, kind):
    return [e for e in events if e.type == kind]


def notices(events):
    return [
        (e.type, e.payload.notice, e.payload.backend)
        for e in events
        if e.type in {"retry", "fallback"}
    ]


async def assert_builtin_created_the_task(run, alice):
    assert run.status == "completed"
    assert run.answered_by == "builtin"
    assert await Task.objects.filter(owner=alice, title__icontains="buy milk").aexists()


async def test_a_refused_connection_falls_back_to_builtin_at_once(alice, scripted_route):
    run, events = await run_chain(
        alice, scripted_route, upstream(f"http://127.0.0.1:{closed_port()}")
    )
    assert notices(events)[0] == ("fallback", "fallback", "custom")
    assert "cannot reach" in of(events, "fallback")[0].payload.reason
    assert not of(events, "retry")
    await assert_builtin_created_the_task(run, alice)


async def test_a_timeout_before_headers_is_retried_then_falls_back(alice, scripted_route):
    with ScriptedServer([stall(3.0), stall(3.0)]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    assert [n[:2] for n in notices(events)][:2] == [("retry", "retry"), ("fallback", "fallback")]
    assert "timeout" in of(events, "fallback")[0].payload.reason.lower()
    await assert_builtin_created_the_task(run, alice)


async def test_a_stall_mid_stream_abandons_the_streamed_text_and_falls_back(alice, scripted_route):
    with ScriptedServer(["I am thinking about this for a long while"], token_delay=0.3) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    abandon = [e for e in of(events, "fallback") if e.payload.notice == "abandon"]
    assert abandon and abandon[0].payload.abandoned_text
    # Text already reached the user: no retry of that attempt, straight to the next backend.
    assert notices(events)[:2] == [
        ("fallback", "abandon", "custom"),
        ("fallback", "fallback", "custom"),
    ]
    await assert_builtin_created_the_task(run, alice)
    kept = await Message.objects.filter(run=run, abandoned=True).aget()
    assert kept.content == abandon[0].payload.abandoned_text


async def test_a_429_is_retried_after_its_retry_after(alice, scripted_route):
    create = ToolCall(id="c1", name="create_task", arguments={"title": "Buy milk"})
    with ScriptedServer([rate_limit(retry_after=0.2), create, "Added Buy milk."]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    retry = of(events, "retry")[0]
    assert retry.payload.status == 429
    assert retry.payload.delay_s == pytest.approx(0.2)
    assert run.status == "completed" and run.answered_by == "custom"
    assert await Task.objects.filter(owner=alice, title="Buy milk").aexists()


@pytest.mark.parametrize("code", [500, 503])
async def test_a_server_error_then_success_is_retried_once(alice, scripted_route, code):
    with ScriptedServer([status(code, "upstream hiccup"), "Nothing to add."]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    assert [e.payload.status for e in of(events, "retry")] == [code]
    assert not of(events, "fallback")
    assert run.status == "completed" and run.answered_by == "custom"


async def test_malformed_json_does_not_become_an_answer(alice, scripted_route):
    with ScriptedServer([malformed_json(), malformed_json()]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    assert of(events, "fallback"), notices(events)
    assert "protocol" in " ".join(e.payload.reason for e in of(events, "fallback")).lower()
    await assert_builtin_created_the_task(run, alice)


async def test_a_truncated_stream_is_abandoned_and_marked(alice, scripted_route):
    with ScriptedServer([truncate_stream("Half an answer that breaks off")]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    kinds = [e.payload.notice for e in of(events, "fallback")]
    assert "abandon" in kinds
    await assert_builtin_created_the_task(run, alice)
    assert await Message.objects.filter(run=run, abandoned=True).aexists()


async def test_an_empty_stream_is_retried_once_without_streaming(alice, scripted_route):
    create = ToolCall(id="c1", name="create_task", arguments={"title": "Buy milk"})
    with ScriptedServer([empty_stream(), create, "Added Buy milk."]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    stream_retry = [e for e in of(events, "retry") if e.payload.notice == "stream_retry"]
    assert len(stream_retry) == 1
    assert run.status == "completed" and run.answered_by == "custom"
    assert await Task.objects.filter(owner=alice, title="Buy milk").aexists()


async def test_a_call_to_an_unknown_tool_is_answered_with_an_error_the_model_can_use(
    alice, scripted_route
):
    rocket = ToolCall(id="c1", name="launch_rocket", arguments={})
    with ScriptedServer([rocket, "Sorry, I cannot do that."]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    result = of(events, "tool_result")[0]
    assert "Unknown tool 'launch_rocket'" in result.payload.content
    assert run.status == "completed" and run.tool_errors == 1
    assert "Unknown tool" in server.chat_requests[1].body["messages"][-1]["content"]


async def test_invalid_arguments_twice_fall_back_to_the_next_backend(alice, scripted_route):
    bad = ToolCall(id="b", name="create_task", arguments={"name": "milk"})
    with ScriptedServer([bad, bad]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    reasons = [e.payload.reason for e in of(events, "fallback")]
    assert any("after a corrective round" in r for r in reasons)
    await assert_builtin_created_the_task(run, alice)


async def test_context_too_long_goes_straight_to_the_next_backend(alice, scripted_route):
    with ScriptedServer([context_too_long()]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url))
    first = notices(events)[0]
    assert first == ("fallback", "fallback", "custom"), "not retried: it would fail again"
    assert "context" in of(events, "fallback")[0].payload.reason.lower()
    await assert_builtin_created_the_task(run, alice)


async def test_an_error_in_the_middle_of_an_ollama_stream_is_not_an_answer(alice, scripted_route):
    from agentcore.testing.faults import stream_error

    with ScriptedServer([stream_error("model runner crashed", "Partial")]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url, "ollama"))
    assert "model runner crashed" in " ".join(e.payload.reason for e in of(events, "fallback"))
    await assert_builtin_created_the_task(run, alice)


async def test_when_every_backend_fails_the_run_fails_with_the_story(alice, scripted_route):
    await Task.objects.acreate(owner=alice, title="Existing task")
    dead = upstream(f"http://127.0.0.1:{closed_port()}")
    chain = FallbackBackend([dead], retry=FAST_RETRY)
    conv = await sync_to_async(conversation_create)(user=alice, route=scripted_route(chain))
    events = []

    async def publish(event):
        events.append(event)

    run = await execute_run(conv, USER_TEXT, publish=publish)
    run = await AgentRun.objects.aget(pk=run.pk)
    assert run.status == "failed"
    error = of(events, "error")[0]
    assert error.payload.backend == "custom"
    assert "cannot reach" in run.error
    assert await Message.objects.filter(conversation=conv, role="user").aexists()


async def test_every_model_request_of_a_run_is_capped_at_max_output_tokens(
    alice, scripted_route, settings
):
    settings.TASKWEB_MAX_OUTPUT_TOKENS = 321
    async with ScriptedServer(["A short answer."]) as server:
        run, _ = await run_chain(alice, scripted_route, upstream(server.url))
    assert run.status == "completed"
    assert server.chat_requests[0].body["max_tokens"] == 321
