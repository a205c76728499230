"""`manage.py agent_eval`: the project suite on the builtin engine, scripted backends side by
side, the user's own database left alone, and bad suites refused with their line number."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from agentcore.errors import BackendUnavailable
from agentcore.messages import ToolCall
from agentcore.testing import ScriptedBackend
from tasks.models import AgentRun, Conversation, Task

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "evals" / "dev.jsonl"

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = [
    {
        "id": "adds-milk",
        "turns": ["Please add Buy milk"],
        "expect": {"tools": ["create_task"], "tasks": [{"title": "Buy milk"}], "task_count": 1},
    },
    {
        "id": "misses-the-date",
        "now": "2026-11-24T09:00:00",
        "turns": ["Please add Call the plumber tomorrow"],
        "expect": {
            "tools": ["create_task"],
            "tasks": [{"title_contains": "plumber", "due_date": "2026-11-25"}],
        },
    },
    {
        "id": "small-talk",
        "setup": [{"title": "Pay rent", "status": "done"}],
        "turns": ["hello there"],
        "expect": {"forbid_tools": ["create_task"], "task_count": 1, "reply_contains": ["hello"]},
    },
]


def naive(request, info):
    """Adds whatever follows 'add', never a due date; says hello otherwise."""
    last = request.messages[-1]
    if last.role == "tool":
        return "Done."
    if " add " in f" {last.content} ":
        title = last.content.split("add ", 1)[1]
        return ToolCall(id=f"c{info.index}", name="create_task", arguments={"title": title})
    return "Hello! How can I help?"


def write_suite(tmp_path, cases, name="small.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("agent_eval", *map(str, args), "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_project_suite_passes_on_builtin_and_leaves_the_real_database_alone(alice, tmp_path):
    Task.objects.create(owner=alice, title="Alice's own task")
    db_name = connection.settings_dict["NAME"]
    out_json = tmp_path / "report.json"

    out, _ = run(SUITE, "--backend", "builtin", "--json", out_json)

    report = json.loads(out_json.read_text())
    [backend] = report["backends"]
    summary = backend["summary"]
    assert summary["backend"] == "builtin"
    assert summary["cases"] == len(SUITE.read_text().splitlines())
    assert summary["pass_rate"] >= 0.95, [c["id"] for c in backend["cases"] if not c["passed"]]
    assert f"{summary['passed']}/{summary['cases']}" in out
    assert summary["latency_p50_ms"] > 0 and summary["input_tokens"] > 0
    # The run happened elsewhere: the real database has only what was there before.
    assert connection.settings_dict["NAME"] == db_name
    assert list(Task.objects.values_list("title", flat=True)) == ["Alice's own task"]
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]
    assert not Conversation.objects.exists() and not AgentRun.objects.exists()


def test_two_backends_run_side_by_side_with_json_html_and_diffs(tmp_path, scripted_route):
    scripted = scripted_route(ScriptedBackend(naive))
    suite = write_suite(tmp_path, SMALL)
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"

    out, err = run(
        suite, "--backend", "builtin", "--backend", scripted, "--json", out_json, "--html", out_html
    )

    report = json.loads(out_json.read_text())
    assert [b["summary"]["backend"] for b in report["backends"]] == ["builtin", scripted]
    by_id = {c["id"]: c for c in report["backends"][1]["cases"]}
    assert [by_id[i]["passed"] for i in ("adds-milk", "misses-the-date", "small-talk")] == [
        True,
        False,
        True,
    ]
    assert by_id["adds-milk"]["turns"][0]["tool_calls"] == [
        {"name": "create_task", "arguments": {"title": "Buy milk"}}
    ]
    assert report["backends"][1]["summary"]["tool_accuracy"] == 1.0
    # The failure says what differed, in the terminal report.
    assert f"FAIL misses-the-date [{scripted}]" in out
    assert "due_date: expected '2026-11-25', got None" in out
    assert "calls: create_task" in out
    page = out_html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "misses-the-date" in page
    assert "<script" not in page and "wrote" in err


def test_a_backend_error_is_a_failed_case_with_the_error_shown(tmp_path, scripted_route):
    down = scripted_route(ScriptedBackend(lambda r, i: BackendUnavailable("connection refused")))
    suite = write_suite(tmp_path, SMALL[:1] + SMALL[2:])
    out_json = tmp_path / "r.json"

    out, _ = run(suite, "--backend", down, "--json", out_json)

    [backend] = json.loads(out_json.read_text())["backends"]
    assert backend["summary"]["passed"] == 0 and backend["summary"]["errors"] == 2
    assert backend["summary"]["tool_accuracy"] == 0.0
    assert all("connection refused" in c["errors"][0] for c in backend["cases"])
    assert "x run:" in out and "connection refused" in out


def test_cases_can_be_picked_by_id(tmp_path, scripted_route):
    scripted = scripted_route(ScriptedBackend(naive))
    out_json = tmp_path / "r.json"
    run(
        write_suite(tmp_path, SMALL),
        "--backend",
        scripted,
        "--cases",
        "small-talk",
        "--json",
        out_json,
    )
    [backend] = json.loads(out_json.read_text())["backends"]
    assert [c["id"] for c in backend["cases"]] == ["small-talk"]
    with pytest.raises(CommandError, match="unknown case id"):
        run(write_suite(tmp_path, SMALL), "--backend", scripted, "--cases", "nope")


def test_an_unknown_backend_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(CommandError, match="unknown backend"):
        run(write_suite(tmp_path, SMALL), "--backend", "no-such-profile")


def test_a_bad_suite_exits_2_with_its_line_number(tmp_path):
    bad = write_suite(tmp_path, SMALL[:1], "bad.jsonl")
    bad.write_text(bad.read_text() + '{"id": "x", "turns": ["hi"], "expect": {"tools": ["nap"]}}\n')
    with pytest.raises(CommandError) as info:
        run(bad, "--backend", "builtin")
    assert info.value.returncode == 2
    assert f"{bad}:2:" in str(info.value) and "unknown tool 'nap'" in str(info.value)


def test_the_command_line_exit_code_for_a_bad_suite_is_2(tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"id": "ok", "turns": ["hi"]}\n{"id": "broken", \n')
    result = subprocess.run(
        [sys.executable, "manage.py", "agent_eval", str(bad), "--backend", "builtin"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"{bad}:2: invalid JSON" in result.stderr
