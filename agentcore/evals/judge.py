"""Check a case's expectations (`evals/FORMAT.md`) against what an agent did.

The judge sees only plain data: the user's tasks as tool dicts (the shape `list_tasks`
returns), the names of the tools called, the last reply, and any run errors. That keeps one
judge for the ORM-backed `agent_eval` command and the in-memory test runner, so both reach the
same verdict on the same case. Each expectation yields a `CheckResult` that says what was
expected, what was found and, when they differ, how: a failing eval is only useful if it
tells you what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .suite import Expectations, Predicate

CheckKey: TypeAlias = Literal[
    "run", "tools", "forbid_tools", "tasks", "absent", "task_count", "reply_contains"
]
TOOL_CHECKS: frozenset[str] = frozenset({"tools", "forbid_tools"})
TASK_FIELDS = ("id", "title", "priority", "status", "due_date", "tags")
"""The task fields reports show (predicates can only speak of these, bar `description`)."""


@dataclass(frozen=True, kw_only=True)
class FieldDiff:
    """One field of one task that did not hold."""

    field: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected!r}, got {self.actual!r}"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """The outcome of one expectation."""

    key: CheckKey
    passed: bool
    expected: Any
    """What the suite asked for (JSON-friendly)."""
    actual: Any
    """What the agent produced for the same thing (JSON-friendly)."""
    detail: str = ""
    """How they differ, in one or a few lines; empty when the check passed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "passed": self.passed,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """All checks of one case; the case passes when every check passed."""

    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def tools_correct(self) -> bool:
        """The tool-selection checks (`tools` in order, no `forbid_tools`) all held."""
        return all(c.passed for c in self.checks if c.key in TOOL_CHECKS)


def brief(task: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a task that a report shows."""
    return {key: task.get(key) for key in TASK_FIELDS}


def mismatches(predicate: Predicate, task: Mapping[str, Any]) -> list[FieldDiff]:
    """The fields of `task` that break `predicate`; empty means the task matches."""
    diffs: list[FieldDiff] = []
    title = str(task.get("title") or "")
    for key, want in predicate.fields.items():
        if key == "title_contains":
            ok = str(want).lower() in title.lower()
            got: Any = title
        elif key == "tags":
            got = list(task.get("tags") or [])
            ok = {str(t).lower() for t in want} <= {str(t).lower() for t in got}
        else:
            got = task.get(key)
            ok = got == want
        if not ok:
            diffs.append(FieldDiff(field=key, expected=want, actual=got))
    return diffs


def matches(predicate: Predicate, task: Mapping[str, Any]) -> bool:
    return not mismatches(predicate, task)


def distinct_matching(
    predicates: Sequence[Predicate], tasks: Sequence[Mapping[str, Any]]
) -> dict[int, int]:
    """A maximum matching predicate index → task index, each task used once (Kuhn's method)."""
    candidates = [[j for j, t in enumerate(tasks) if matches(p, t)] for p in predicates]
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(predicates)):
        assign(i, set())
    return {i: j for j, i in owner.items()}


def judge(
    expect: Expectations,
    *,
    tasks: Sequence[Mapping[str, Any]],
    calls: Sequence[str],
    reply: str,
    errors: Sequence[str] = (),
) -> Verdict:
    """Every expectation of `expect`, plus a `run` check that fails when a turn errored."""
    checks: list[CheckResult] = []
    if errors:
        checks.append(_run_check(errors))
    if expect.tools is not None:
        checks.append(_tools_check(expect.tools, calls))
    if expect.forbid_tools:
        checks.append(_forbid_check(expect.forbid_tools, calls))
    if expect.tasks:
        checks.append(_tasks_check(expect.tasks, tasks))
    if expect.absent:
        checks.append(_absent_check(expect.absent, tasks))
    if expect.task_count is not None:
        count = len(tasks)
        checks.append(
            CheckResult(
                key="task_count",
                passed=count == expect.task_count,
                expected=expect.task_count,
                actual=count,
                detail="" if count == expect.task_count else _count_detail(expect, tasks),
            )
        )
    if expect.reply_contains:
        missing = [s for s in expect.reply_contains if s.lower() not in reply.lower()]
        checks.append(
            CheckResult(
                key="reply_contains",
                passed=not missing,
                expected=list(expect.reply_contains),
                actual=reply,
                detail=f"reply lacks {', '.join(map(repr, missing))}" if missing else "",
            )
        )
    return Verdict(checks=tuple(checks))


def _run_check(errors: Sequence[str]) -> CheckResult:
    return CheckResult(
        key="run",
        passed=False,
        expected="every turn completes",
        actual=list(errors),
        detail="; ".join(errors),
    )


def _tools_check(wanted: Sequence[str], calls: Sequence[str]) -> CheckResult:
    position, detail = 0, ""
    previous: str | None = None
    for name in wanted:
        try:
            position = calls.index(name, position) + 1
        except ValueError:
            if name not in calls:
                detail = f"{name} was never called"
            else:
                detail = f"{name} was not called after {previous}"
            break
        previous = name
    return CheckResult(
        key="tools", passed=not detail, expected=list(wanted), actual=list(calls), detail=detail
    )


def _forbid_check(forbidden: Sequence[str], calls: Sequence[str]) -> CheckResult:
    called = [name for name in forbidden if name in calls]
    return CheckResult(
        key="forbid_tools",
        passed=not called,
        expected=list(forbidden),
        actual=list(calls),
        detail=f"forbidden tool(s) called: {', '.join(called)}" if called else "",
    )


def _tasks_check(
    predicates: Sequence[Predicate], tasks: Sequence[Mapping[str, Any]]
) -> CheckResult:
    matched = distinct_matching(predicates, tasks)
    lines = [
        f"{p.to_dict()}: {_why_unmatched(p, tasks)}"
        for i, p in enumerate(predicates)
        if i not in matched
    ]
    return CheckResult(
        key="tasks",
        passed=not lines,
        expected=[p.to_dict() for p in predicates],
        actual=[brief(t) for t in tasks],
        detail="\n".join(lines),
    )


def _why_unmatched(predicate: Predicate, tasks: Sequence[Mapping[str, Any]]) -> str:
    """Explain the miss by the closest task: the one that breaks the fewest fields."""
    if not tasks:
        return "the user has no tasks"
    if any(matches(predicate, t) for t in tasks):
        return "the tasks it matches are already matched by another predicate"
    closest = min(tasks, key=lambda t: len(mismatches(predicate, t)))
    diffs = "; ".join(str(d) for d in mismatches(predicate, closest))
    return f"no task matches; closest #{closest.get('id')} {closest.get('title')!r}: {diffs}"


def _absent_check(
    predicates: Sequence[Predicate], tasks: Sequence[Mapping[str, Any]]
) -> CheckResult:
    lines = []
    for predicate in predicates:
        hits = [t for t in tasks if matches(predicate, t)]
        if hits:
            found = ", ".join(f"#{t.get('id')} {t.get('title')!r}" for t in hits)
            lines.append(f"{predicate.to_dict()} must be absent but matches {found}")
    return CheckResult(
        key="absent",
        passed=not lines,
        expected=[p.to_dict() for p in predicates],
        actual=[brief(t) for t in tasks],
        detail="\n".join(lines),
    )


def _count_detail(expect: Expectations, tasks: Sequence[Mapping[str, Any]]) -> str:
    titles = ", ".join(repr(t.get("title")) for t in tasks) or "none"
    return f"expected {expect.task_count} task(s), found {len(tasks)}: {titles}"
