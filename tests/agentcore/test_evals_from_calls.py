"""Eval cases rebuilt from what an agent did: the setup is the tasks as the calls first saw them,
never their later state, and what cannot be known is said in the notes."""

from __future__ import annotations

import json
from datetime import datetime

from agentcore.evals import parse_suite
from agentcore.evals.from_calls import ObservedCall, case_from_calls, case_from_openai_line

NOW = datetime(2026, 11, 24, 9, 30, 15, 123)


def task(id, title, **fields):
    return {"id": id, "title": title, "description": "", "priority": "medium", "status": "open",
            "due_date": None, "tags": [], "created_at": "2026-11-01T00:00:00", **fields}  # fmt: skip


def test_a_listed_task_is_set_up_as_it_was_listed_not_as_it_ended():
    calls = [
        ObservedCall(name="list_tasks", arguments={"query": "invoices"},
                     result={"tasks": [task(7, "Pay invoices", priority="high")], "count": 1}),
        ObservedCall(name="complete_task", arguments={"task_id": 7},
                     result=task(7, "Pay invoices", priority="high", status="done")),
    ]  # fmt: skip
    case, notes = case_from_calls(case_id="c", now=NOW, turns=["Mark task 7 as done"], calls=calls)
    assert case["setup"] == [{"title": "Pay invoices", "priority": "high", "status": "open"}]
    assert case["turns"] == ["Mark task {task:0} as done"]
    assert case["now"] == "2026-11-24T09:30:15"
    assert case["expect"] == {
        "tools": ["complete_task"],
        "forbid_tools": ["delete_task"],
        "tasks": [
            {"title": "Pay invoices", "priority": "high", "status": "done", "due_date": None}
        ],
        "task_count": 1,
    }
    assert notes == []
    assert parse_suite([json.dumps(case)])[0].setup[0].priority == "high"


def test_a_task_first_met_by_an_update_gets_its_after_state_minus_the_change_and_a_note():
    calls = [
        ObservedCall(name="update_task", arguments={"task_id": 3, "due_date": "2026-12-01"},
                     result=task(3, "Dentist", due_date="2026-12-01", tags=["health"])),
    ]  # fmt: skip
    case, notes = case_from_calls(case_id="c", now=NOW, turns=["Move the dentist"], calls=calls)
    assert case["setup"] == [{"title": "Dentist", "priority": "medium", "tags": ["health"],
                              "status": "open"}]  # fmt: skip
    assert "inferred" in notes[0] and "Dentist" in notes[0]


def test_created_and_deleted_tasks_are_expected_and_counted_and_failed_calls_ignored():
    calls = [
        ObservedCall(name="create_task", arguments={"title": "Buy milk"}, result=task(9, "Buy milk")),
        ObservedCall(name="create_task", arguments={"priority": "urgent"}, result=None),
        ObservedCall(name="delete_task", arguments={"task_id": 2},
                     result={"deleted": 2, "title": "Old draft"}),
    ]  # fmt: skip
    case, notes = case_from_calls(case_id="c", now=NOW, turns=["..."], calls=calls)
    assert case["setup"] == [{"title": "Old draft"}]
    assert case["expect"]["tools"] == ["create_task", "delete_task"]
    assert "forbid_tools" not in case["expect"]
    assert case["expect"]["tasks"][0]["title_contains"] == "Buy milk"
    assert case["expect"]["absent"] == [{"title": "Old draft"}]
    assert case["expect"]["task_count"] == 1
    assert "title only" in notes[0]


def test_an_openai_fine_tuning_line_reimports_with_its_day_and_tool_results():
    line = {
        "messages": [
            {"role": "system", "content": "You are Taskweb.\nToday is Tuesday 2026-11-24. Dates"},
            {"role": "user", "content": "Add buy milk"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "create_task", "arguments": "{\"title\": \"Buy milk\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": json.dumps(task(1, "Buy milk"))},
            {"role": "assistant", "content": "Added."},
        ]
    }  # fmt: skip
    case, _ = case_from_openai_line(line, case_id="l0")
    assert case["now"] == "2026-11-24T12:00:00"
    assert case["turns"] == ["Add buy milk"]
    assert case["expect"]["tools"] == ["create_task"]
    assert case["expect"]["task_count"] == 1
