"""Runs exported to a real OpenTelemetry receiver, Arize Phoenix, and read back through its REST
API: names, attributes, parent/child links and token counts match the stored steps.

Phoenix lives in its own venv (`make phoenix`, ~850 MB: its pins are not the project's). It
is started on loopback on free ports with a throw-away working directory. Missing → skip with
the install command; REQUIRE_INTEROP=1 (set by .ci/run) → fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync

from tests.conftest import require

pytest.importorskip("opentelemetry.sdk", reason="pip install -r requirements-otel.txt")

from agentcore.testing.faults import status
from agentcore.testing.server import ScriptedServer
from tasks.models import RunStep
from tasks.otel_export import RunTraceExporter
from tasks.runner import execute_run
from tasks.services import conversation_create

ROOT = Path(__file__).resolve().parents[2]
PHOENIX = ROOT / ".venv-phoenix" / "bin" / "phoenix"
INSTALL = "make phoenix"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live, pytest.mark.interop]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    """A Phoenix server on loopback; yields its base URL."""
    if not PHOENIX.is_file():
        require("REQUIRE_INTEROP", f"Arize Phoenix is not installed; run `{INSTALL}`")
    work = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = work / "phoenix.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PHOENIX), "serve"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # the first start compiles and migrates: ~70 s here
        while True:
            if process.poll() is not None:
                pytest.fail(f"Phoenix exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Phoenix not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _ignore(event) -> None:
    return None


def spans_in(url: str, project: str, want: int) -> list[dict]:
    """The project's spans once `want` of them arrived (Phoenix ingests asynchronously)."""
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(f"{url}/v1/projects/{project}/spans", params={"limit": 100})
        spans = response.json().get("data", []) if response.status_code == 200 else []
        if len(spans) >= want or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_phoenix_receives_each_run_as_a_trace_matching_its_steps(phoenix, alice, server_profile):
    with ScriptedServer([status(503)] * 6) as server:
        profile = server_profile(server.url)  # users name the operator's profiles, not URLs
        conv = conversation_create(user=alice, route=f"{profile},builtin")
        run = async_to_sync(execute_run)(conv, "Create a task to call the plumber", publish=_ignore)
    steps = list(RunStep.objects.filter(run=run).order_by("seq"))
    project = f"taskweb-test-{uuid.uuid4().hex[:8]}"
    exporter = RunTraceExporter(
        endpoint=phoenix, resource_attributes={"openinference.project.name": project}
    )
    exporter.export_run(run)
    assert exporter.flush()
    exporter.shutdown()

    answers = [s for s in steps if s.type == "model_response"]
    assert run.status == "completed" and answers, [s.type for s in steps]
    attempts = [s for s in steps if s.type in ("retry", "fallback")]
    tools = [s for s in steps if s.type == "tool_result"]
    want = 1 + len(answers) + len(attempts) + len(tools)
    spans = spans_in(phoenix, project, want)
    assert len(spans) == want

    (root,) = [s for s in spans if not s["parent_id"]]
    assert root["name"] == "invoke_agent taskweb"
    assert root["span_kind"] == "AGENT"
    assert root["attributes"]["taskweb.run.id"] == run.pk
    assert root["attributes"]["gen_ai.usage.input_tokens"] == run.input_tokens
    assert at(root["start_time"]) == steps[0].ts and at(root["end_time"]) == steps[-1].ts
    children = [s for s in spans if s is not root]
    assert {s["parent_id"] for s in children} == {root["context"]["span_id"]}
    assert {s["context"]["trace_id"] for s in spans} == {root["context"]["trace_id"]}

    chats = sorted(
        (s for s in children if s["attributes"]["gen_ai.operation.name"] == "chat"),
        key=lambda s: at(s["end_time"]),
    )
    answered = [s for s in chats if s["status_code"] != "ERROR"]
    failed = [s for s in chats if s["status_code"] == "ERROR"]
    assert len(failed) == len(attempts) >= 3
    assert {s["name"] for s in failed} == {"chat tiny"}
    for span, step in zip(answered, answers, strict=True):
        assert span["span_kind"] == "LLM"
        assert span["name"] == f"chat {step.model}"
        assert span["attributes"]["gen_ai.request.model"] == step.model
        assert span["attributes"]["gen_ai.usage.input_tokens"] == step.input_tokens
        assert span["attributes"]["gen_ai.usage.output_tokens"] == step.output_tokens
        assert at(span["end_time"]) == step.ts

    (tool,) = [s for s in children if s["span_kind"] == "TOOL"]
    assert tool["name"] == "execute_tool create_task"
    assert tool["attributes"]["gen_ai.tool.name"] == "create_task"
    assert tool["attributes"]["gen_ai.tool.call.id"] == tools[0].payload["call_id"]
    assert at(tool["end_time"]) == tools[0].ts
