"""`export_dataset`: runs made through the app become OpenAI fine-tuning lines that the SDK's own
types accept, bad trajectories are left out with their reason, names never leak, and the
exported tool calls re-import as a suite that `agent_eval` passes on the builtin engine."""

from __future__ import annotations

import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam
from pydantic import TypeAdapter

from agentcore.messages import ToolCall
from agentcore.testing.server import ScriptedServer
from tasks.models import RunRating, Task
from tasks.runner import execute_run
from tasks.services import conversation_create

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = TypeAdapter(list[ChatCompletionMessageParam])
TOOLS = TypeAdapter(list[ChatCompletionFunctionToolParam])


async def _ignore(event) -> None:
    return None


def turn(conversation, text, *, approve=None):
    return async_to_sync(execute_run)(conversation, text, publish=_ignore, approve=approve)


def export(tmp_path, *args):
    out_file = tmp_path / "train.jsonl"
    out = io.StringIO()
    call_command("export_dataset", str(out_file), *args, stdout=out)
    lines = [json.loads(x) for x in out_file.read_text().splitlines()]
    return lines, out.getvalue()


@pytest.fixture
def traffic(alice, server_profile):
    """Runs on the builtin engine and on the scripted OpenAI-compatible server."""
    alice.email = "alice.smith@example.com"
    alice.first_name, alice.last_name = "Alicia", "Smithers"
    alice.save()
    Task.objects.create(owner=alice, title="Pay invoices")
    builtin = conversation_create(user=alice, route="builtin")
    turn(builtin, "Create a task to review the marketing proposal by Friday")
    turn(builtin, "Mark the task Pay invoices as done")
    plumber = ToolCall(id="call_1", name="create_task", arguments={"title": "Call the plumber"})
    with ScriptedServer([plumber, "Added Call the plumber."]) as server:
        remote = conversation_create(user=alice, route=server_profile(server.url))
        turn(remote, "Add a task to call the plumber")
        bad = ToolCall(id="call_2", name="create_task", arguments={"priority": "urgent"})
        with ScriptedServer([bad, "Sorry."]) as server2:
            broken = conversation_create(user=alice, route=server_profile(server2.url))
            turn(broken, "Add something urgent")
    rejected = conversation_create(user=alice, route="builtin")
    turn(rejected, "Delete the task Pay invoices", approve=_no)
    leaky = conversation_create(user=alice, route="builtin")
    disliked = turn(leaky, "Create a task to email alice.smith@example.com about Alicia's report")
    RunRating.objects.create(run=disliked, user=alice, verdict="down")
    named = conversation_create(user=alice, route="builtin")
    turn(named, "Create a task to thank Smithers and alice for the lunch")
    return alice


async def _no(call) -> bool:
    return False


def test_every_line_validates_with_the_openai_sdk_types(traffic, tmp_path):
    lines, _ = export(tmp_path)
    assert lines
    for line in lines:
        MESSAGES.validate_python(line["messages"])
        TOOLS.validate_python(line["tools"])
        assert {t["function"]["name"] for t in line["tools"]} >= {"create_task", "delete_task"}
        assert line["messages"][0]["role"] == "system"
        assert line["messages"][-1]["role"] == "assistant"


def test_tool_calls_are_exported_with_json_arguments_and_their_results(traffic, tmp_path):
    lines, _ = export(tmp_path)
    plumber = next(x for x in lines if "plumber" in json.dumps(x))
    call_message = next(m for m in plumber["messages"] if m.get("tool_calls"))
    call = call_message["tool_calls"][0]
    assert call == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "create_task", "arguments": json.dumps({"title": "Call the plumber"})},
    }
    result = next(m for m in plumber["messages"] if m["role"] == "tool")
    assert result["tool_call_id"] == "call_1"
    assert json.loads(result["content"])["title"] == "Call the plumber"
    # The second builtin turn carries the first as context, not to be trained on.
    invoices = next(x for x in lines if "invoices" in x["messages"][-1]["content"].lower())
    assert [m["content"] for m in invoices["messages"] if m["role"] == "user"] == [
        "Create a task to review the marketing proposal by Friday",
        "Mark the task Pay invoices as done",
    ]
    weights = [m.get("weight") for m in invoices["messages"] if m["role"] == "assistant"]
    assert weights[0] == 0 and weights[-1] is None


def test_bad_trajectories_are_skipped_with_reasons_and_can_be_asked_for(traffic, tmp_path):
    lines, printed = export(tmp_path)
    assert len(lines) == 4
    assert "wrote 4 lines, 5 turns" in printed
    assert "1 rated down" in printed
    assert "1 tool call failed" in printed
    assert "1 tool call rejected" in printed
    everything, printed = export(
        tmp_path, "--include-failed-tools", "--include-disliked", "--format", "openai"
    )
    assert len(everything) == 7
    rated, printed = export(tmp_path, "--rated-only")
    assert rated == [] and "7 not rated up" in printed


def test_user_names_and_email_addresses_never_appear(traffic, tmp_path):
    for fmt in ("openai", "sharegpt"):
        lines, _ = export(tmp_path, "--format", fmt, "--include-disliked")
        text = json.dumps(lines, ensure_ascii=False).lower()
        for secret in ("alice", "smithers", "alicia", "example.com"):
            assert secret not in text, (fmt, secret)
        assert "[user]" in text and "[email]" in text


def test_profile_and_since_select_runs(traffic, tmp_path):
    lines, _ = export(tmp_path, "--profile", "builtin")
    assert lines and all("plumber" not in json.dumps(x) for x in lines)
    later, printed = export(tmp_path, "--since", "2999-01-01")
    assert later == [] and "wrote 0 lines" in printed


def test_sharegpt_lines_hold_function_calls_and_observations(traffic, tmp_path):
    lines, _ = export(tmp_path, "--format", "sharegpt")
    plumber = next(x for x in lines if "plumber" in json.dumps(x))
    kinds = [t["from"] for t in plumber["conversations"]]
    assert kinds == ["human", "function_call", "observation", "gpt"]
    assert json.loads(plumber["tools"])[0]["name"] == "create_task"


def test_exported_tool_calls_reimport_as_a_suite_that_builtin_passes(traffic, tmp_path):
    lines, _ = export(tmp_path)
    suite = tmp_path / "reimported.jsonl"
    out = io.StringIO()
    call_command("suite_from_dataset", str(tmp_path / "train.jsonl"), str(suite), stdout=out)
    assert f"{len(lines)} cases" in out.getvalue()
    cases = [json.loads(x) for x in suite.read_text().splitlines()]
    invoices = next(c for c in cases if "invoices" in json.dumps(c))
    assert invoices["setup"] == [{"title": "Pay invoices", "priority": "medium", "status": "open"}]
    out = io.StringIO()
    call_command(
        "agent_eval", str(suite), "--backend", "builtin", "--no-progress", "--json",
        str(tmp_path / "r.json"), stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    report = json.loads((tmp_path / "r.json").read_text())
    (builtin,) = report["backends"]
    assert [r["passed"] for r in builtin["cases"]] == [True] * len(cases), out.getvalue()
