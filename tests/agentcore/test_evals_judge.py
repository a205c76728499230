"""The judge says pass or fail per expectation, and what differed; the report sums it up."""

from __future__ import annotations

import json
from decimal import Decimal

from agentcore.evals import Report, ToolCallRecord, TurnRecord, evaluate, judge
from agentcore.evals.render_html import render_html
from agentcore.evals.render_text import render_report, render_table
from agentcore.evals.report import percentile, summarize
from agentcore.evals.suite import parse_case


def expect(**keys):
    return parse_case({"id": "x", "turns": ["x"], "expect": keys}).expect


def task(id, title, **fields):
    base = {"priority": "medium", "status": "open", "due_date": None, "tags": []}
    return {"id": id, "title": title, **base, **fields}


def check(verdict, key):
    [found] = [c for c in verdict.checks if c.key == key]
    return found


def test_tools_must_appear_in_order_with_other_calls_between():
    e = expect(tools=["list_tasks", "complete_task"])
    assert judge(e, tasks=[], calls=["list_tasks", "get_task", "complete_task"], reply="").passed
    wrong = judge(e, tasks=[], calls=["complete_task", "list_tasks"], reply="")
    assert check(wrong, "tools").detail == "complete_task was not called after list_tasks"
    missing = judge(e, tasks=[], calls=["list_tasks"], reply="")
    assert check(missing, "tools").detail == "complete_task was never called"
    assert check(missing, "tools").actual == ["list_tasks"]


def test_a_forbidden_tool_fails_and_is_named():
    verdict = judge(expect(forbid_tools=["delete_task"]), tasks=[], calls=["delete_task"], reply="")
    assert not verdict.passed and not verdict.tools_correct
    assert "delete_task" in check(verdict, "forbid_tools").detail


def test_each_task_predicate_needs_its_own_task():
    e = expect(tasks=[{"title_contains": "call"}, {"title_contains": "MOM"}])
    assert not judge(e, tasks=[task(1, "Call mom")], calls=[], reply="").passed
    both = [task(1, "Call mom"), task(2, "Call mom again")]
    assert judge(e, tasks=both, calls=[], reply="").passed


def test_the_matching_is_not_fooled_by_order():
    # A greedy match would give task 1 to the first predicate and leave the second unmatched.
    e = expect(tasks=[{"title_contains": "report"}, {"title": "Weekly report"}])
    tasks = [task(1, "Weekly report"), task(2, "Monthly report")]
    assert judge(e, tasks=tasks, calls=[], reply="").passed


def test_an_unmatched_predicate_is_explained_by_the_closest_task():
    e = expect(tasks=[{"title_contains": "plumber", "due_date": "2026-11-25", "priority": "high"}])
    tasks = [task(1, "Buy milk"), task(2, "Call the plumber", due_date="2026-11-26")]
    result = check(judge(e, tasks=tasks, calls=[], reply=""), "tasks")
    assert not result.passed
    assert "closest #2 'Call the plumber'" in result.detail
    assert "due_date: expected '2026-11-25', got '2026-11-26'" in result.detail
    assert "priority: expected 'high', got 'medium'" in result.detail
    assert result.actual[1]["title"] == "Call the plumber"
    assert "no tasks" in check(judge(e, tasks=[], calls=[], reply=""), "tasks").detail


def test_fields_tags_absent_count_and_reply():
    tasks = [task(1, "Pay", priority="high", due_date="2026-11-27", tags=["a", "b"])]
    ok = expect(
        tasks=[{"title": "Pay", "priority": "high", "due_date": "2026-11-27", "tags": ["B"]}]
    )
    assert judge(ok, tasks=tasks, calls=[], reply="").passed
    assert not judge(expect(tasks=[{"title": "pay"}]), tasks=tasks, calls=[], reply="").passed
    assert not judge(expect(tasks=[{"due_date": None}]), tasks=tasks, calls=[], reply="").passed
    absent = judge(expect(absent=[{"tags": ["a"]}]), tasks=tasks, calls=[], reply="")
    assert "matches #1 'Pay'" in check(absent, "absent").detail
    count = judge(expect(task_count=2), tasks=tasks, calls=[], reply="")
    assert check(count, "task_count").detail == "expected 2 task(s), found 1: 'Pay'"
    assert judge(expect(reply_contains=["PAY"]), tasks=tasks, calls=[], reply="paid: pay").passed
    reply = judge(expect(reply_contains=["rent", "pay"]), tasks=tasks, calls=[], reply="pay")
    assert check(reply, "reply_contains").detail == "reply lacks 'rent'"


def test_a_run_error_fails_the_case_even_when_nothing_else_is_expected():
    verdict = judge(expect(), tasks=[], calls=[], reply="", errors=["turn 1: refused"])
    assert not verdict.passed
    assert check(verdict, "run").detail == "turn 1: refused"
    assert judge(expect(), tasks=[], calls=[], reply="").passed


def case_result(case_id, *, calls, status="completed", latency=10.0, backend="b", **expect_keys):
    case = parse_case({"id": case_id, "turns": ["hi"], "expect": expect_keys})
    turn = TurnRecord(
        message="hi",
        reply="done",
        status=status,
        error="" if status == "completed" else "cannot reach it",
        latency_ms=latency,
        input_tokens=100,
        output_tokens=10,
        cost=Decimal("0.001"),
        tool_calls=[ToolCallRecord(name=n, arguments={"title": "<b>x</b>"}) for n in calls],
    )
    return evaluate(case, backend=backend, turns=[turn], tasks=[])


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 101))), 95) == 95.05


def test_tool_accuracy_counts_only_cases_with_tool_expectations_and_completed_runs():
    results = [
        case_result("right", calls=["create_task"], tools=["create_task"]),
        case_result("wrong", calls=["list_tasks"], tools=["create_task"]),
        case_result("chat", calls=[], task_count=0),
        case_result("died", calls=[], status="failed", forbid_tools=["delete_task"]),
    ]
    s = summarize("b", results)
    assert (s.cases, s.passed, s.errors) == (4, 2, 1)
    assert (s.tool_correct, s.tool_cases) == (1, 3)
    assert s.input_tokens == 400 and s.output_tokens == 40 and s.cost == Decimal("0.004")
    assert s.turns == 4 and s.latency_p50_ms == 10.0


def test_renderers_show_figures_and_failures_and_escape_everything():
    results = [
        case_result("ok", calls=["create_task"], tools=["create_task"]),
        case_result("<script>alert(1)</script>", calls=["list_tasks"], tools=["create_task"]),
    ]
    report = Report(suite="s.jsonl", backends=["b"], results={"b": results})
    table = render_table(report.summaries())
    assert "1/2 (50.0%)" in table and "50.0% (1/2)" in table
    text = render_report(report)
    assert "FAIL <script>alert(1)</script> [b]" in text
    assert "create_task was never called" in text
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "http" not in page.replace('lang="en"', "")  # nothing loaded from elsewhere
    data = json.loads(json.dumps(report.to_dict()))
    [backend] = data["backends"]
    assert backend["summary"]["pass_rate"] == 0.5
    assert backend["cases"][1]["checks"][0]["detail"] == "create_task was never called"
    assert "tool_accuracy" in data["definitions"]
