"""Suite loading: typed cases from good lines, a line number and a reason for bad ones."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from agentcore.errors import ConfigError
from agentcore.evals import SuiteError, load_suite, parse_suite
from agentcore.evals.suite import expand_placeholders

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "id": "create",
    "now": "2026-11-24T09:00:00",
    "setup": [
        {"title": "Pay rent", "priority": "high", "due_date": "2026-11-28", "tags": ["home"]}
    ],
    "turns": ["Complete task {task:0}"],
    "approve": False,
    "expect": {
        "tools": ["complete_task"],
        "forbid_tools": ["delete_task"],
        "tasks": [{"title_contains": "rent", "status": "done", "due_date": None}],
        "absent": [{"title": "Nothing"}],
        "task_count": 1,
        "reply_contains": ["rent"],
    },
}


def lines(*cases):
    return [c if isinstance(c, str) else json.dumps(c) for c in cases]


def error_for(*cases) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        parse_suite(lines(*cases), source="s.jsonl")
    return info.value


def with_(**changes):
    return {**GOOD, **changes}


def test_a_good_line_becomes_a_typed_case():
    [case] = parse_suite(lines(GOOD))
    assert case.id == "create" and case.line == 1
    assert case.now == datetime(2026, 11, 24, 9, 0)
    assert case.setup[0].priority == "high" and case.setup[0].tags == ("home",)
    assert case.setup[0].status == "open" and case.setup[0].description == ""
    assert case.approve is False
    assert case.expect.tools == ("complete_task",)
    assert case.expect.tasks[0].to_dict() == {
        "title_contains": "rent",
        "status": "done",
        "due_date": None,
    }
    assert case.expect.task_count == 1 and case.expect.checks_tools


def test_omitted_keys_take_the_format_defaults():
    [case] = parse_suite(lines({"id": "x", "turns": ["hi"]}))
    assert case.now is None and case.setup == () and case.approve is True
    assert case.expect.tools is None and not case.expect.checks_tools


def test_task_placeholders_expand_to_setup_ids():
    [case] = parse_suite(lines(GOOD))
    assert case.turns_for([42]) == ["Complete task 42"]
    assert expand_placeholders("{task:1} then {task:0}", [7, 9]) == "9 then 7"


def test_the_project_suite_loads():
    cases = load_suite(ROOT / "evals" / "dev.jsonl")
    assert len(cases) >= 60
    assert [c.line for c in cases] == list(range(1, len(cases) + 1))


def test_blank_lines_are_skipped_but_counted():
    err = error_for(GOOD, "", "   ", "{not json")
    assert err.line == 4 and "invalid JSON" in err.reason
    assert str(err).startswith("s.jsonl:4: ")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (with_(expects={}), "unknown key 'expects'"),
        (with_(id=""), "'id' must be a non-empty string"),
        (with_(turns=[]), "at least one user message"),
        (with_(turns="hello"), "'turns' must be a list of strings"),
        (with_(turns=["Do {task:3}"]), "uses {task:3} but setup has 1 task(s)"),
        (with_(now="next tuesday"), "'now' is not an ISO date-time"),
        (with_(approve="yes"), "'approve' must be true or false"),
        (with_(setup=[{"title": "x", "priority": "urgent"}]), "setup[0].priority must be one of"),
        (with_(setup=[{"title": "x", "due_date": "2026-13-01"}]), "setup[0].due_date"),
        (with_(setup=[{"title": "x", "due_date": "Friday"}]), "ISO date YYYY-MM-DD"),
        (with_(setup=[{"priority": "low"}]), "setup[0].title must be a non-empty string"),
        (with_(setup=[{"title": "x", "owner": "bob"}]), "unknown key 'owner' in setup[0]"),
        (with_(expect={"tools": ["create_tasks"]}), "unknown tool 'create_tasks'"),
        (with_(expect={"tasks": [{}]}), "expect.tasks[0] is empty"),
        (with_(expect={"tasks": [{"titel": "x"}]}), "unknown key 'titel' in expect.tasks[0]"),
        (with_(expect={"absent": [{"status": "closed"}]}), "expect.absent[0].status"),
        (with_(expect={"task_count": -1}), "non-negative integer"),
        (with_(expect={"task_count": True}), "non-negative integer"),
        (with_(expect={"reply_contains": "rent"}), "expect.reply_contains"),
        ([1, 2], "a case must be a JSON object, not list"),
    ],
)
def test_each_mistake_names_its_line_and_reason(case, reason):
    err = error_for({"id": "first", "turns": ["hi"]}, case)
    assert err.line == 2
    assert reason in err.reason, err.reason


def test_the_reason_names_the_case():
    err = error_for(with_(approve=1))
    assert err.reason.startswith("case 'create': ")


def test_duplicate_ids_point_at_both_lines():
    err = error_for(GOOD, GOOD)
    assert err.line == 2 and "first on line 1" in err.reason


def test_a_missing_or_empty_file_is_a_suite_error(tmp_path):
    with pytest.raises(SuiteError, match="cannot read"):
        load_suite(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(SuiteError, match="no cases"):
        load_suite(tmp_path / "empty.jsonl")


def test_suite_errors_are_config_errors():
    assert issubclass(SuiteError, ConfigError)
