"""A model that stalls: the idle timeout ends the wait, and the run does not ask it again.

The upstream is the scripted server on loopback; `total` is long, so only the idle timeout
(or the first-byte timeout, for a stall right after the headers) can end each wait.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_fault_matrix import assert_builtin_created_the_task, notices, of, run_chain

from agentcore.backends.openai_compat import OpenAICompatBackend
from agentcore.retry import RetryPolicy
from agentcore.specs import Timeouts, parse_spec
from agentcore.testing.faults import stall_after_headers
from agentcore.testing.server import ScriptedServer

pytestmark = pytest.mark.django_db(transaction=True)
PATIENT_TOTAL = Timeouts(connect=0.5, first_token=0.5, total=60.0, idle=0.3)
NO_RETRY = RetryPolicy(max_retries=0)


def upstream(url: str):
    spec = parse_spec(f"openai_compat:task-api-model@{url}/v1")
    return OpenAICompatBackend.from_config(replace(spec, name="custom", timeouts=PATIENT_TOTAL))


def chat_requests(server) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))


async def test_a_stall_mid_stream_ends_at_the_idle_timeout_and_is_not_asked_again(
    alice, scripted_route
):
    with ScriptedServer(["I am thinking about this for a long while"], token_delay=2.0) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url), NO_RETRY)
    reasons = [e.payload.reason for e in of(events, "fallback")]
    assert "stalled: no output for 0.3s" in reasons[0], "after its first frame, not at 60 s"
    assert ("fallback", "skip", "custom") in notices(events), "the second call skips it"
    assert "earlier in this run" in of(events, "fallback")[-1].payload.reason
    assert chat_requests(server) == 1
    await assert_builtin_created_the_task(run, alice)


async def test_a_stall_after_the_headers_ends_at_the_first_byte_timeout_once_per_run(
    alice, scripted_route
):
    with ScriptedServer([stall_after_headers(5.0)]) as server:
        run, events = await run_chain(alice, scripted_route, upstream(server.url), NO_RETRY)
    first = of(events, "fallback")[0].payload
    assert first.notice == "fallback" and "no first byte within 0.5s" in first.reason
    assert chat_requests(server) == 1, "not tried again in the same run"
    await assert_builtin_created_the_task(run, alice)
