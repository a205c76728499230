"""Load an eval suite (JSON Lines, `evals/FORMAT.md`) into typed, validated case records.

A suite is written by hand, so a typo must be caught before any backend runs: every problem is
reported with its line number and what was wrong, and a case that loads is one the runner and
the judge can use without further checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeAlias, cast

from agentcore.errors import ConfigError
from agentcore.task_contract import PRIORITIES, STATUSES, TOOL_NAMES, Priority, TaskStatus

Status: TypeAlias = TaskStatus
PREDICATE_KEYS = ("title_contains", "title", "priority", "status", "due_date", "tags")
SETUP_KEYS = ("title", "description", "priority", "due_date", "tags", "status")
CASE_KEYS = ("id", "now", "setup", "turns", "approve", "expect")
EXPECT_KEYS = ("tools", "forbid_tools", "tasks", "absent", "task_count", "reply_contains")
PLACEHOLDER = re.compile(r"\{task:(\d+)\}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class SuiteError(ConfigError):
    """A suite file that cannot be run; `line` is 1-based, 0 when the whole file is at fault."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class _Invalid(ValueError):
    """Raised inside the validators; turned into a SuiteError carrying the line number."""


@dataclass(frozen=True, kw_only=True)
class Predicate:
    """A description of one task: every given field must hold (FORMAT.md `tasks`/`absent`)."""

    fields: Mapping[str, Any]
    """The predicate's keys and wanted values, as written in the suite (validated)."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass(frozen=True, kw_only=True)
class SetupTask:
    """A task created for the case's fresh user before the first turn."""

    title: str
    description: str = ""
    priority: Priority = "medium"
    due_date: str | None = None
    """ISO `YYYY-MM-DD` or None."""
    tags: tuple[str, ...] = ()
    status: Status = "open"


@dataclass(frozen=True, kw_only=True)
class Expectations:
    """What must hold after the last turn; a key absent from the suite is simply not checked."""

    tools: tuple[str, ...] | None = None
    """Tool names that must appear in this order among the calls (others may come between)."""
    forbid_tools: tuple[str, ...] = ()
    tasks: tuple[Predicate, ...] = ()
    """Each must match a distinct task of the user."""
    absent: tuple[Predicate, ...] = ()
    """No task may match any of these."""
    task_count: int | None = None
    reply_contains: tuple[str, ...] = ()
    """Case-insensitive substrings of the last turn's final reply."""

    @property
    def checks_tools(self) -> bool:
        """Whether this case says anything about tool selection (for tool accuracy)."""
        return self.tools is not None or bool(self.forbid_tools)


@dataclass(frozen=True, kw_only=True)
class Case:
    """One eval case, validated."""

    id: str
    line: int
    """Where the case is in its file, so reports can point back at it."""
    turns: tuple[str, ...]
    """User messages as written; `{task:N}` is expanded by `turns_for`."""
    now: datetime | None = None
    """The agent's clock for this case; None means the real clock."""
    setup: tuple[SetupTask, ...] = ()
    approve: bool = True
    expect: Expectations = field(default_factory=Expectations)

    def turns_for(self, setup_ids: Sequence[int]) -> list[str]:
        """The turns with `{task:N}` replaced by the id of the N-th setup task."""
        return [expand_placeholders(turn, setup_ids) for turn in self.turns]


def expand_placeholders(text: str, setup_ids: Sequence[int]) -> str:
    def replace(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(setup_ids):
            raise IndexError(f"{match.group(0)} but only {len(setup_ids)} setup task(s)")
        return str(setup_ids[index])

    return PLACEHOLDER.sub(replace, text)


def load_suite(path: str | Path) -> list[Case]:
    """Read and validate a suite file; raise SuiteError naming the first bad line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(name, 0, f"cannot read the suite: {exc}") from exc
    return parse_suite(text.splitlines(), source=name)


def parse_suite(lines: Iterable[str], *, source: str = "<suite>") -> list[Case]:
    """Validate JSON Lines (blank lines skipped); case ids must be unique."""
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
            raise SuiteError(source, number, reason) from None
        try:
            case = parse_case(raw, line=number)
        except _Invalid as exc:
            raise SuiteError(source, number, str(exc)) from None
        if case.id in seen:
            reason = f"duplicate case id {case.id!r} (first on line {seen[case.id]})"
            raise SuiteError(source, number, reason)
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise SuiteError(source, 0, "the suite has no cases")
    return cases


def parse_case(raw: Any, *, line: int = 0) -> Case:
    """One case from its decoded JSON; raises _Invalid with a reason a person can act on."""
    obj = _object(raw, "a case", CASE_KEYS)
    case_id = obj.get("id")
    if not isinstance(case_id, str) or not case_id.strip():
        raise _Invalid("'id' must be a non-empty string")
    where = f"case {case_id!r}: "
    try:
        setup = tuple(
            _setup_task(item, f"setup[{i}]") for i, item in enumerate(_list(obj, "setup"))
        )
        turns = tuple(_strings(obj.get("turns"), "turns"))
        if not turns:
            raise _Invalid("'turns' must list at least one user message")
        for turn in turns:
            for match in PLACEHOLDER.finditer(turn):
                if int(match.group(1)) >= len(setup):
                    raise _Invalid(
                        f"turn {turn!r} uses {match.group(0)} but setup has {len(setup)} task(s)"
                    )
        approve = obj.get("approve", True)
        if not isinstance(approve, bool):
            raise _Invalid("'approve' must be true or false")
        return Case(
            id=case_id,
            line=line,
            turns=turns,
            now=_now(obj.get("now")),
            setup=setup,
            approve=approve,
            expect=_expectations(obj.get("expect", {})),
        )
    except _Invalid as exc:
        raise _Invalid(where + str(exc)) from None


def _object(raw: Any, what: str, allowed: Sequence[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Invalid(f"{what} must be a JSON object, not {type(raw).__name__}")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise _Invalid(f"unknown key {unknown[0]!r} in {what}; allowed: {', '.join(allowed)}")
    return raw


def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _Invalid(f"{key!r} must be a list")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"{what!r} must be a list of strings")
    return list(value)


def _tool_names(value: Any, what: str) -> tuple[str, ...]:
    names = _strings(value, what)
    for name in names:
        if name not in TOOL_NAMES:
            raise _Invalid(f"{what!r} names unknown tool {name!r}; tools: {', '.join(TOOL_NAMES)}")
    return tuple(names)


def _now(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid("'now' must be an ISO date-time string such as 2026-11-24T09:00:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"'now' is not an ISO date-time: {value!r}") from None


def _iso_date(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise _Invalid(f"{what} must be an ISO date YYYY-MM-DD or null, not {value!r}")


def _choice(value: Any, what: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _Invalid(f"{what} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _setup_task(raw: Any, what: str) -> SetupTask:
    obj = _object(raw, what, SETUP_KEYS)
    title = obj.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _Invalid(f"{what}.title must be a non-empty string")
    description = obj.get("description", "")
    if not isinstance(description, str):
        raise _Invalid(f"{what}.description must be a string")
    return SetupTask(
        title=title,
        description=description,
        priority=cast(
            Priority, _choice(obj.get("priority", "medium"), f"{what}.priority", PRIORITIES)
        ),
        due_date=_iso_date(obj.get("due_date"), f"{what}.due_date"),
        tags=tuple(_strings(obj.get("tags", []), f"{what}.tags")),
        status=cast(Status, _choice(obj.get("status", "open"), f"{what}.status", STATUSES)),
    )


def _predicate(raw: Any, what: str) -> Predicate:
    obj = _object(raw, what, PREDICATE_KEYS)
    if not obj:
        raise _Invalid(f"{what} is empty: it would match any task")
    for key in ("title_contains", "title"):
        if key in obj and not isinstance(obj[key], str):
            raise _Invalid(f"{what}.{key} must be a string")
    if "priority" in obj:
        _choice(obj["priority"], f"{what}.priority", PRIORITIES)
    if "status" in obj:
        _choice(obj["status"], f"{what}.status", STATUSES)
    if "due_date" in obj:
        _iso_date(obj["due_date"], f"{what}.due_date")
    if "tags" in obj:
        _strings(obj["tags"], f"{what}.tags")
    return Predicate(fields=dict(obj))


def _expectations(raw: Any) -> Expectations:
    obj = _object(raw, "'expect'", EXPECT_KEYS)
    count = obj.get("task_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise _Invalid(f"expect.task_count must be a non-negative integer, not {count!r}")
    return Expectations(
        tools=_tool_names(obj["tools"], "expect.tools") if "tools" in obj else None,
        forbid_tools=_tool_names(obj.get("forbid_tools", []), "expect.forbid_tools"),
        tasks=tuple(_predicate(p, f"expect.tasks[{i}]") for i, p in enumerate(_list(obj, "tasks"))),
        absent=tuple(
            _predicate(p, f"expect.absent[{i}]") for i, p in enumerate(_list(obj, "absent"))
        ),
        task_count=count,
        reply_contains=tuple(_strings(obj.get("reply_contains", []), "expect.reply_contains")),
    )
