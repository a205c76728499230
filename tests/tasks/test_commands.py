"""The terminal commands: agent_chat, ensure_admin, agent_doctor."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tasks.models import AgentRun, Task

pytestmark = pytest.mark.django_db(transaction=True)


def coming_friday(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=(4 - today.weekday()) % 7 or 7)


def test_agent_chat_json_prints_one_event_per_line_with_the_create_call(capsys):
    call_command(
        "agent_chat", "--backend", "builtin", "--json",
        "Create a task to review the marketing proposal by Friday",
    )  # fmt: skip
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    types = [e["type"] for e in events]
    call = next(e for e in events if e["type"] == "tool_call")
    assert call["payload"]["name"] == "create_task"
    assert call["payload"]["arguments"]["due_date"] == coming_friday(dt.date.today()).isoformat()
    assert types.index("tool_call") < types.index("final")
    assert types[-1] == "run_finished"
    assert Task.objects.get().title.lower().startswith("review the marketing proposal")


def test_agent_chat_runs_several_turns_in_one_conversation(capsys):
    call_command(
        "agent_chat", "--backend", "builtin", "Add a task to buy stamps", "What's on my list?"
    )
    out = capsys.readouterr().out
    assert "Buy stamps" in out
    assert AgentRun.objects.count() == 2
    assert AgentRun.objects.values("conversation").distinct().count() == 1


def test_agent_chat_rejects_deletes_unless_told_yes(capsys):
    user = get_user_model().objects.create_user("cli")
    task = Task.objects.create(owner=user, title="Old draft")
    call_command("agent_chat", "--backend", "builtin", f"Delete task {task.pk}")
    assert Task.objects.filter(pk=task.pk).exists()
    call_command("agent_chat", "--backend", "builtin", "--yes", f"Delete task {task.pk}")
    assert not Task.objects.filter(pk=task.pk).exists()


def test_agent_chat_explains_a_bad_backend_spec():
    with pytest.raises(CommandError, match="unknown backend"):
        call_command("agent_chat", "--backend", "gpt5", "hi")


def test_agent_chat_shows_the_fallback_from_a_dead_ollama(capsys):
    call_command(
        "agent_chat", "--json", "--route", "ollama:task-api-model@http://127.0.0.1:9,builtin",
        "Add a task to buy stamps", "Add a task to buy envelopes", "Add a task to buy tape",
        "What's on my list?",
    )  # fmt: skip
    # A backend that failed is not asked again in the same run: one failure per run, so
    # the circuit (3 failures) opens in the third run and the fourth skips it.
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    reasons = [e["payload"]["reason"] for e in events if e["type"] == "fallback"]
    assert any("cannot reach" in r for r in reasons)
    assert any("circuit open until" in r for r in reasons)
    finals = [e for e in events if e["type"] == "final"]
    assert len(finals) == 4 and {e["payload"]["backend"] for e in finals} == {"builtin"}


def test_ensure_admin_creates_the_account_once_and_keeps_the_password(tmp_path, capsys):
    secret = tmp_path / "pw"
    call_command("ensure_admin", "--file", str(secret))
    first = capsys.readouterr().out
    password = secret.read_text().strip()
    assert f"username admin, password {password}" in first
    assert str(secret) in first
    assert get_user_model().objects.get(username="admin").check_password(password)
    call_command("ensure_admin", "--file", str(secret))
    assert password in capsys.readouterr().out
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert oct(secret.stat().st_mode)[-3:] == "600"


def test_ensure_admin_keeps_the_login_of_a_file_that_still_says_user_colon_password(
    tmp_path, capsys
):
    secret = tmp_path / "pw"
    call_command("ensure_admin", "--file", str(secret))
    password = secret.read_text().strip()
    secret.write_text(f"admin:{password}\n")  # what the file held before
    call_command("ensure_admin", "--file", str(secret))
    assert f"username admin, password {password}\n" in capsys.readouterr().out
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_agent_doctor_reports_an_unreachable_backend_truthfully(capsys):
    call_command("agent_doctor", "--backend", "ollama:task-api-model@http://127.0.0.1:9", "--json")
    report = json.loads(capsys.readouterr().out)
    backend = report["backends"][0]
    assert backend["reachable"] is False
    assert "cannot reach" in backend["problems"][0]
    assert report["recommendation"]["pattern"] == "direct"


def test_agent_doctor_finds_a_model_that_calls_tools(capsys):
    from agentcore.messages import ToolCall
    from agentcore.testing.server import ScriptedServer

    call = ToolCall(id="c", name="create_task", arguments={"title": "buy milk"})
    with ScriptedServer([call], models=["task-api-model"]) as server:
        call_command("agent_doctor", "--backend", f"ollama:task-api-model@{server.url}")
    out = capsys.readouterr().out
    assert "reachable:      yes" in out
    assert "model present:  yes" in out
    assert "calls tools:    native" in out


def test_agent_doctor_says_when_a_tool_call_was_forced(capsys):
    from agentcore.messages import ToolCall
    from agentcore.testing.server import ScriptedServer

    call = ToolCall(id="c", name="create_task", arguments={"title": "buy milk"})
    with ScriptedServer([call], models=["tiny"]) as server:
        spec = f"openai_compat:tiny@{server.url}/v1#tool_choice=create_task"
        call_command("agent_doctor", "--backend", spec)
        sent = server.chat_requests[0].body["tool_choice"]
    assert "calls tools:    native (forced: tool_choice=create_task)" in capsys.readouterr().out
    assert sent == {"type": "function", "function": {"name": "create_task"}}


def test_agent_doctor_names_the_pull_command_for_a_missing_model(capsys):
    from agentcore.testing.server import ScriptedServer

    with ScriptedServer([], models=["llama3.2"]) as server:
        call_command("agent_doctor", "--backend", f"ollama:task-api-model@{server.url}")
    out = capsys.readouterr().out
    assert "model present:  NO" in out
    assert "ollama pull task-api-model" in out
