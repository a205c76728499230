"""Each finished run as an OpenTelemetry trace, for Phoenix, Langfuse, Jaeger or any collector.

Spans are built after the run closed, from its stored steps (the database is the source of
truth, and a trace must match the trace panel): one span for the run, one per model call (failed
attempts, retries and fallbacks included) and one per tool call, named and attributed after the
OpenTelemetry GenAI semantic conventions, with the steps' own timestamps.

Nothing here may slow or break a run: `run_closed` only queues the run id; one daemon thread
reads the run and hands its spans to a `BatchSpanProcessor`, which sends them on its own thread.
A collector that is down costs a warning, logged once, and nothing else.

Optional: active when OTEL_EXPORTER_OTLP_ENDPOINT is set and `opentelemetry-sdk` with
`opentelemetry-exporter-otlp-proto-http` is installed (requirements-otel.txt). Message contents
go into spans only with TASKWEB_OTEL_CAPTURE_CONTENT=1.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import close_old_connections, connections, transaction

from .models import AgentRun, BackendProfile
from .run_record import ModelCall, RunRecord, ToolRun, run_record

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger(__name__)
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
CAPTURE_ENV = "TASKWEB_OTEL_CAPTURE_CONTENT"
INSTALL = ".venv/bin/pip install -r requirements-otel.txt"
PROVIDERS = {
    "ollama": "ollama",
    "openai_compat": "openai",
    "llamacpp": "llama_cpp",
    "builtin": "taskweb.builtin",
}
"""`gen_ai.provider.name` per backend kind (OpenAI-compatible servers speak OpenAI's API)."""


def _ns(when: dt.datetime) -> int:
    return int(when.timestamp() * 1_000_000_000)


def capture_content_default() -> bool:
    return os.environ.get(CAPTURE_ENV, "").lower() in ("1", "true", "yes")


class _WarnOnce:
    """Wraps the span exporter so that a collector that is down is logged once, not per batch."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.warned = False

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            result = self.inner.export(spans)
        except Exception as exc:  # an exporter bug must not kill the processor's thread
            result = SpanExportResult.FAILURE
            reason = str(exc)
        else:
            reason = "the collector refused or did not answer"
        if result is not SpanExportResult.SUCCESS and not self.warned:
            self.warned = True
            log.warning("OpenTelemetry: could not export run traces (%s); runs go on", reason)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def _quiet_sdk_loggers() -> None:
    """The OTLP exporter logs every failed batch; `_WarnOnce` says it once instead."""
    for name in (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.sdk.trace.export",
        "opentelemetry.sdk._shared_internal",
    ):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class RunTraceExporter:
    """Builds the spans of stored runs and hands them to a span processor."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        span_exporter: SpanExporter | None = None,
        batch: bool = True,
        capture_content: bool | None = None,
        resource_attributes: dict[str, str] | None = None,
    ) -> None:
        """`endpoint` is a base URL as in OTEL_EXPORTER_OTLP_ENDPOINT (/v1/traces is added);
        without it and without `span_exporter`, the SDK reads its standard OTEL_* variables.
        OTEL_RESOURCE_ATTRIBUTES applies too (e.g. `openinference.project.name=taskweb`
        files the traces under that project in Phoenix)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        if span_exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            url = f"{endpoint.rstrip('/')}/v1/traces" if endpoint else None
            span_exporter = OTLPSpanExporter(endpoint=url, timeout=5)
            _quiet_sdk_loggers()
        self.sink = _WarnOnce(span_exporter)
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": "taskweb", **(resource_attributes or {})})
        )
        processor = BatchSpanProcessor if batch else SimpleSpanProcessor
        self.provider.add_span_processor(processor(self.sink))  # type: ignore[arg-type]
        self.tracer = self.provider.get_tracer("taskweb.runs")
        self.capture = capture_content_default() if capture_content is None else capture_content

    def export_run(self, run: AgentRun) -> None:
        """Build and hand over the spans of one closed run (reads the database)."""
        self.export_record(run_record(run))

    def export_record(self, record: RunRecord) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        run = record.run
        providers = _providers(record)
        root = self.tracer.start_span(
            "invoke_agent taskweb",
            kind=SpanKind.INTERNAL,
            start_time=_ns(record.start),
            attributes=self._run_attributes(record),
        )
        if run.status != "completed":
            root.set_status(Status(StatusCode.ERROR, run.error[:500] or run.status))
        context = trace.set_span_in_context(root)
        for call in record.model_calls:
            span = self.tracer.start_span(
                f"chat {call.model or call.backend}",
                context=context,
                kind=SpanKind.CLIENT,
                start_time=_ns(call.start),
                attributes=self._model_attributes(run, call, providers),
            )
            if call.failed:
                span.set_status(Status(StatusCode.ERROR, call.reason[:500]))
            span.end(end_time=_ns(call.end))
        for tool in record.tool_runs:
            span = self.tracer.start_span(
                f"execute_tool {tool.name}",
                context=context,
                kind=SpanKind.INTERNAL,
                start_time=_ns(tool.start),
                attributes=self._tool_attributes(run, tool),
            )
            if tool.error:
                span.set_status(Status(StatusCode.ERROR, tool.error[:500]))
            span.end(end_time=_ns(tool.end))
        root.end(end_time=_ns(record.end))

    def flush(self, timeout_millis: int = 10_000) -> bool:
        return bool(self.provider.force_flush(timeout_millis))

    def shutdown(self) -> None:
        self.provider.shutdown()

    def _run_attributes(self, record: RunRecord) -> dict[str, Any]:
        run = record.run
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "taskweb",
            "gen_ai.conversation.id": str(run.conversation_id),
            "gen_ai.usage.input_tokens": run.input_tokens,
            "gen_ai.usage.output_tokens": run.output_tokens,
            "openinference.span.kind": "AGENT",
            "taskweb.run.id": run.pk,
            "taskweb.run.status": run.status,
            "taskweb.run.route": run.route,
            "taskweb.run.answered_by": run.answered_by,
            "taskweb.run.cost_usd": float(run.cost),
        }
        if self.capture:
            attributes["gen_ai.input.messages"] = json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": record.user_text}]}]
            )
        return attributes

    def _model_attributes(
        self, run: AgentRun, call: ModelCall, providers: dict[str, str]
    ) -> dict[str, Any]:
        provider = providers.get(call.backend, "unknown")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.system": provider,
            "gen_ai.request.model": call.model,
            "openinference.span.kind": "LLM",
            "taskweb.run.id": run.pk,
            "taskweb.backend": call.backend,
            "taskweb.attempt.outcome": call.outcome,
        }
        if call.failed:
            attributes["error.type"] = call.outcome
            return attributes
        attributes |= {
            "gen_ai.response.model": call.model,
            "gen_ai.usage.input_tokens": call.input_tokens,
            "gen_ai.usage.output_tokens": call.output_tokens,
            "gen_ai.response.finish_reasons": ["tool_calls" if call.tool_calls else "stop"],
            "taskweb.tokens_estimated": call.tokens_estimated,
        }
        if call.ttft_ms is not None:
            attributes["taskweb.ttft_ms"] = call.ttft_ms
        if self.capture:
            parts: list[dict[str, Any]] = (
                [{"type": "text", "content": call.text}] if call.text else []
            )
            parts += [
                {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
                for c in call.tool_calls
            ]
            attributes["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "parts": parts}], default=str
            )
        return attributes

    def _tool_attributes(self, run: AgentRun, tool: ToolRun) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": tool.call_id,
            "gen_ai.tool.type": "function",
            "openinference.span.kind": "TOOL",
            "taskweb.run.id": run.pk,
        }
        if tool.error:
            attributes["error.type"] = "rejected" if tool.rejected else "tool_error"
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = json.dumps(tool.arguments, default=str)
            attributes["gen_ai.tool.call.result"] = tool.content
        return attributes


def _providers(record: RunRecord) -> dict[str, str]:
    """Backend name → `gen_ai.provider.name`, from profiles or from the spec's kind prefix."""
    names = {c.backend for c in record.model_calls}
    kinds = dict(BackendProfile.objects.filter(name__in=names).values_list("name", "kind"))
    for name in names - kinds.keys():
        kinds[name] = name.split(":", 1)[0]
    return {name: PROVIDERS.get(kind, kind) for name, kind in kinds.items()}


class _Worker:
    """One daemon thread that exports queued run ids; a full queue drops (and says so once)."""

    def __init__(self, exporter: RunTraceExporter, size: int = 1000) -> None:
        self.exporter = exporter
        self.queue: queue.Queue[int] = queue.Queue(maxsize=size)
        self.dropped = False
        self.thread = threading.Thread(target=self._loop, name="taskweb-otel", daemon=True)
        self.thread.start()

    def submit(self, run_id: int) -> None:
        try:
            self.queue.put_nowait(run_id)
        except queue.Full:
            if not self.dropped:
                self.dropped = True
                log.warning("OpenTelemetry: export queue full; traces of some runs are dropped")

    def _loop(self) -> None:
        while True:
            run_id = self.queue.get()
            try:
                close_old_connections()
                run = AgentRun.objects.filter(pk=run_id).first()
                if run is not None:
                    self.exporter.export_run(run)
            except Exception:
                log.exception("OpenTelemetry: could not build the trace of run %s", run_id)
            finally:
                if self.queue.empty():  # idle: hold no database connection meanwhile
                    connections.close_all()
                self.queue.task_done()


_worker: _Worker | None = None
_unavailable = False
_lock = threading.Lock()


def worker() -> _Worker | None:
    """The process's export worker, started on first use; None when export is off."""
    global _worker, _unavailable
    if not os.environ.get(ENDPOINT_ENV) or _unavailable:
        return None
    with _lock:
        if _worker is None:
            try:
                _worker = _Worker(RunTraceExporter())
            except ImportError:
                _unavailable = True
                log.warning(
                    "%s is set but OpenTelemetry is not installed: %s", ENDPOINT_ENV, INSTALL
                )
                return None
        return _worker


def on_run_closed(sender: Any, run: AgentRun, **kwargs: Any) -> None:
    """`run_closed` receiver: queue the run once its rows are committed."""
    export = worker()
    if export is not None:
        run_id = run.pk
        transaction.on_commit(lambda: export.submit(run_id))
