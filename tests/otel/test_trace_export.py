"""Runs exported as OpenTelemetry traces: one span per run, model call (failed attempts too)
and tool call, GenAI attributes and timestamps from the stored steps, contents only when
allowed, and a dead collector that costs one warning and never a run."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from asgiref.sync import async_to_sync

pytest.importorskip("opentelemetry.sdk", reason="pip install -r requirements-otel.txt")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentcore.testing.faults import status
from agentcore.testing.server import ScriptedServer
from tasks import otel_export
from tasks.models import AgentRun, RunStep
from tasks.otel_export import RunTraceExporter
from tasks.run_signals import run_closed
from tasks.runner import execute_run
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)


async def _ignore(event) -> None:
    return None


def ns(when) -> int:
    return int(when.timestamp() * 1_000_000_000)


@pytest.fixture
def fallback_run(alice, server_profile):
    """A cloud backend that answers 503: retries, a fallback to builtin, a created task."""
    with ScriptedServer([status(503)] * 6) as server:
        conv = conversation_create(user=alice, route=f"{server_profile(server.url)},builtin")
        return async_to_sync(execute_run)(
            conv, "Create a task to call the plumber", publish=_ignore
        )


def spans_of(run, **options):
    memory = InMemorySpanExporter()
    exporter = RunTraceExporter(span_exporter=memory, batch=False, **options)
    exporter.export_run(AgentRun.objects.get(pk=run.pk))
    exporter.shutdown()
    return memory.get_finished_spans()


def test_a_run_is_one_trace_with_a_span_per_model_call_and_tool_call(fallback_run):
    spans = spans_of(fallback_run)
    steps = list(RunStep.objects.filter(run=fallback_run).order_by("seq"))
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "invoke_agent taskweb"
    assert root.attributes["taskweb.run.id"] == fallback_run.pk
    assert root.start_time == ns(steps[0].ts) and root.end_time == ns(steps[-1].ts)
    children = [s for s in spans if s is not root]
    assert {s.parent.span_id for s in children} == {root.context.span_id}
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}

    chats = [s for s in children if s.attributes["gen_ai.operation.name"] == "chat"]
    answers = [s for s in steps if s.type == "model_response"]
    failures = [s for s in steps if s.type in ("retry", "fallback")]
    ok = [s for s in chats if s.status.is_ok]
    failed = [s for s in chats if not s.status.is_ok]
    assert len(ok) == len(answers) and len(failed) == len(failures) >= 3
    for span, step in zip(ok, answers, strict=True):
        assert span.name == "chat rules"
        assert span.attributes["gen_ai.request.model"] == step.model
        assert span.attributes["gen_ai.provider.name"] == "taskweb.builtin"
        assert span.attributes["gen_ai.usage.input_tokens"] == step.input_tokens
        assert span.attributes["gen_ai.usage.output_tokens"] == step.output_tokens
        assert span.end_time == ns(step.ts)
    first_try = failed[0]
    assert first_try.name == "chat tiny"
    assert first_try.attributes["gen_ai.provider.name"] == "openai"
    assert first_try.attributes["error.type"] == "retry"
    assert "503" in first_try.status.description
    assert (
        sum(s.attributes["gen_ai.usage.input_tokens"] for s in ok)
        == (root.attributes["gen_ai.usage.input_tokens"])
    )

    (tool,) = [s for s in children if s.attributes["gen_ai.operation.name"] == "execute_tool"]
    call = next(s for s in steps if s.type == "tool_call")
    assert tool.name == "execute_tool create_task"
    assert tool.attributes["gen_ai.tool.name"] == "create_task"
    assert tool.attributes["gen_ai.tool.call.id"] == call.payload["call_id"]


def test_message_contents_go_into_spans_only_when_allowed(fallback_run):
    plain = spans_of(fallback_run, capture_content=False)
    assert not any("gen_ai.output.messages" in s.attributes for s in plain)
    assert not any("plumber" in json.dumps(dict(s.attributes)).lower() for s in plain)
    full = spans_of(fallback_run, capture_content=True)
    text = json.dumps([dict(s.attributes) for s in full]).lower()
    assert "call the plumber" in text
    (tool,) = [s for s in full if s.name == "execute_tool create_task"]
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"])["title"]


@pytest.fixture
def dead_collector(monkeypatch):
    """OTEL_EXPORTER_OTLP_ENDPOINT pointing at a port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(otel_export.ENDPOINT_ENV, f"http://127.0.0.1:{port}")
    yield
    if otel_export._worker is not None:
        otel_export._worker.exporter.shutdown()
        otel_export._worker = None


def test_a_dead_collector_is_logged_once_and_runs_go_on(alice, dead_collector, caplog):
    conv = conversation_create(user=alice, route="builtin")
    runs = [
        async_to_sync(execute_run)(conv, f"Create a task to water plant {n}", publish=_ignore)
        for n in range(3)
    ]
    with caplog.at_level(logging.WARNING, logger="tasks.otel_export"):
        for run in runs:  # one export attempt each: each one fails
            run_closed.send(sender=AgentRun, run=run)  # what run_close sends
            worker = otel_export.worker()
            worker.queue.join()
            worker.exporter.flush(timeout_millis=15_000)
    assert [r.status for r in runs] == ["completed"] * 3
    warnings = [r for r in caplog.records if "could not export" in r.getMessage()]
    assert len(warnings) == 1
