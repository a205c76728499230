"""The shared sample passes on the builtin engine, and the project's suites are well formed.

How many cases of the development, test and generated suites pass is held by floors in
`test_builtin_quality.py`, not asserted case by case.

The runner in `memory_tools` drives in-memory tools and judges with `agentcore.evals.judge`
(the judge `agent_eval` uses); its checks are tested here too, so a case cannot pass because
the judge is lenient.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_tools import MemoryTasks, load_suite, run_case

from agentcore.backends.builtin import BuiltinBackend
from agentcore.evals import judge as judge_case
from agentcore.evals.suite import parse_case

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT.parent / "shared" / "evals" / "sample.jsonl"  # shared/ lies beside the clone
SUITE = ROOT / "evals" / "dev.jsonl"
BACKEND = BuiltinBackend()


def cases(path):
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{path} is not here"))]
    return [pytest.param(case, id=case.id) for case in load_suite(path)]


@pytest.mark.parametrize("case", cases(SAMPLE))
async def test_shared_sample_case_passes(case):
    result = await run_case(case, BACKEND)
    assert result.passed, ([c.detail for c in result.verdict.failures], result.calls)


def test_the_suite_is_big_varied_and_dated():
    suite = load_suite(SUITE)
    assert len(suite) >= 70
    assert len({c.id for c in suite}) == len(suite)
    assert all(c.now is not None for c in suite)
    weekdays = {c.now.date() for c in suite}
    assert len(weekdays) >= 6
    expected = {n for c in suite for n in c.expect.tools or ()}
    assert expected >= {"create_task", "list_tasks", "get_task", "update_task"}
    assert expected >= {"complete_task", "delete_task"}
    assert any(c.approve is False for c in suite)
    assert any("{task:" in t for c in suite for t in c.turns)


def judge(expect, tasks, called=(), reply=""):
    store = MemoryTasks()
    for task in tasks:
        store.create_task(**task)
    expectations = parse_case({"id": "x", "turns": ["x"], "expect": expect}).expect
    return judge_case(
        expectations, tasks=list(store.tasks.values()), calls=list(called), reply=reply
    )


def test_the_judge_wants_tools_in_order_but_allows_calls_between():
    assert judge(
        {"tools": ["list_tasks", "complete_task"]}, [], ["list_tasks", "get_task", "complete_task"]
    ).passed
    assert not judge(
        {"tools": ["complete_task", "list_tasks"]}, [], ["list_tasks", "complete_task"]
    ).passed
    assert not judge({"forbid_tools": ["delete_task"]}, [], ["delete_task"]).passed


def test_the_judge_matches_each_task_predicate_to_a_distinct_task():
    tasks = [{"title": "Call mom"}]
    expect = {"tasks": [{"title_contains": "call"}, {"title_contains": "MOM"}]}
    assert not judge(expect, tasks).passed
    assert judge(expect, [*tasks, {"title": "Call mom again"}]).passed


def test_the_judge_checks_fields_tags_absent_count_and_reply():
    tasks = [{"title": "Pay", "priority": "high", "due_date": "2026-11-27", "tags": ["a", "b"]}]
    ok = {"tasks": [{"title": "Pay", "priority": "high", "due_date": "2026-11-27", "tags": ["b"]}]}
    assert judge(ok, tasks).passed
    assert not judge({"tasks": [{"title": "pay"}]}, tasks).passed
    assert not judge({"tasks": [{"due_date": None}]}, tasks).passed
    assert not judge({"absent": [{"tags": ["a"]}]}, tasks).passed
    assert not judge({"task_count": 2}, tasks).passed
    assert judge({"reply_contains": ["PAY"]}, tasks, reply="paid: pay").passed
    assert not judge({"reply_contains": ["rent"]}, tasks, reply="pay").passed
