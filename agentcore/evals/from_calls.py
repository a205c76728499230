"""Turn what an agent did (user turns, tool calls and their results) into an eval case.

Used for "Save as eval case" on a run and for re-importing exported fine-tuning data as a
suite. The hard part is `setup`: the user's tasks *before* the turns. The tasks as they are
now are wrong (later runs and this one changed them), so the state is read from the calls
themselves:

- a task first seen in a `list_tasks`/`get_task` result, before any call changed it, was
  in that state before the turns: that is its setup entry, exactly;
- a task first seen in the result of `update_task`/`complete_task` had a state before that
  the calls never showed: its setup entry is its after-state minus what the call changed
  (an update's given fields fall back to their defaults, a completed task was open); the
  case's notes say so;
- a task first met by `delete_task` is known by its title only (noted likewise);
- tasks the turns never listed or touched are unknown and left out: a case that needs them
  (a reply that counts all tasks) may fail for that reason;
- the turns replay back to back, while the user's other conversations may have changed the
  tasks between them: a task first seen at a later turn is set up from the start, which can
  make a reference by title ambiguous in the replay (on 1,000 interleaved synthetic runs,
  180 of the re-imported cases failed for this reason alone).

`expect` asks for the changing calls in order (read-only calls may differ between models),
forbids `delete_task` when nothing was deleted, describes every created or changed task as
it ended, and counts the tasks (setup + created - deleted, exact since the case's user starts
with the setup alone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

READ_ONLY = ("list_tasks", "get_task")
SETUP_FIELDS = ("title", "description", "priority", "due_date", "tags", "status")
PREDICATE_FIELDS = ("priority", "status", "due_date", "tags")


@dataclass(frozen=True, kw_only=True)
class ObservedCall:
    """One tool call as it ran: its arguments and structured result (None if it failed)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    result: Any = None


@dataclass
class _Replay:
    pre: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Setup entries by task id, in the order the tasks were first met."""
    final: dict[int, dict[str, Any]] = field(default_factory=dict)
    created: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    deleted: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def known(self, task_id: int) -> bool:
        return task_id in self.pre or task_id in self.created

    def see(self, task: Any) -> None:
        if not isinstance(task, dict) or not isinstance(task.get("id"), int):
            return
        task_id = task["id"]
        if not self.known(task_id):
            self.pre[task_id] = _setup_entry(task)
        if task_id not in self.deleted:
            self.final[task_id] = task

    def change(self, name: str, arguments: dict[str, Any], task: Any) -> None:
        if not isinstance(task, dict) or not isinstance(task.get("id"), int):
            return
        task_id = task["id"]
        if not self.known(task_id):
            before = {k: v for k, v in task.items() if k not in arguments}
            if name == "complete_task":
                before["status"] = "open"
            self.pre[task_id] = _setup_entry(before | {"title": task.get("title", "")})
            self.notes.append(
                f"task {task_id} ({task.get('title')!r}): state before {name} inferred from "
                "its state after it"
            )
        if task_id not in self.changed and task_id not in self.created:
            self.changed.append(task_id)
        self.final[task_id] = task


def _setup_entry(task: dict[str, Any]) -> dict[str, Any]:
    entry = {k: task[k] for k in SETUP_FIELDS if k in task and task[k] not in (None, "", [])}
    entry["title"] = str(task.get("title") or "untitled")
    if entry.get("status") not in ("open", "done"):
        entry.pop("status", None)
    return entry


def _replay(calls: Sequence[ObservedCall]) -> _Replay:
    state = _Replay()
    for call in calls:
        result = call.result
        if result is None:
            continue
        if call.name == "list_tasks" and isinstance(result, dict):
            for task in result.get("tasks") or ():
                state.see(task)
        elif call.name == "get_task":
            state.see(result)
        elif call.name == "create_task" and isinstance(result, dict):
            if isinstance(result.get("id"), int):
                state.created.append(result["id"])
                state.final[result["id"]] = result
        elif call.name in ("update_task", "complete_task"):
            state.change(call.name, call.arguments, result)
        elif call.name == "delete_task" and isinstance(result, dict):
            task_id = result.get("deleted")
            if isinstance(task_id, int):
                title = str(result.get("title") or "")
                if not state.known(task_id):
                    state.pre[task_id] = {"title": title or "untitled"}
                    state.notes.append(f"task {task_id} ({title!r}): known by its title only")
                state.deleted[task_id] = title
                state.final.pop(task_id, None)
    return state


def _placeholders(text: str, ids: Sequence[int]) -> str:
    """'task 7' / '#7' naming a setup task becomes '{task:N}' (ids differ in the replay)."""
    index = {str(task_id): n for n, task_id in enumerate(ids)}

    def swap(match: re.Match[str]) -> str:
        n = index.get(match.group(2))
        return match.group(0) if n is None else f"{match.group(1)}{{task:{n}}}"

    return re.sub(r"(?i)(\btask\s*#?|#)(\d+)\b", swap, text)


def _predicate(task: dict[str, Any], *, exact_title: bool) -> dict[str, Any]:
    title = str(task.get("title") or "")
    predicate: dict[str, Any] = {"title": title} if exact_title else {"title_contains": title}
    for key in PREDICATE_FIELDS:
        if key in task and task[key] not in ([],):
            predicate[key] = task[key]
    return predicate


def case_from_calls(
    *, case_id: str, now: datetime, turns: Sequence[str], calls: Sequence[ObservedCall]
) -> tuple[dict[str, Any], list[str]]:
    """The case (a suite line as a dict) and the notes on what could not be known."""
    state = _replay(calls)
    setup_ids = list(state.pre)
    changing = [c.name for c in calls if c.name not in READ_ONLY and c.result is not None]
    expect: dict[str, Any] = {"tools": changing}
    if "delete_task" not in changing:
        expect["forbid_tools"] = ["delete_task"]
    tasks = [
        _predicate(state.final[i], exact_title=i in state.pre)
        for i in (*state.created, *state.changed)
        if i in state.final
    ]
    if tasks:
        expect["tasks"] = tasks
    absent = [{"title": title} for title in state.deleted.values() if title]
    if absent:
        expect["absent"] = absent
    deleted_known = sum(1 for i in state.deleted if i in state.pre or i in state.created)
    expect["task_count"] = len(setup_ids) + len(state.created) - deleted_known
    case: dict[str, Any] = {
        "id": case_id,
        "now": now.replace(microsecond=0).isoformat(),
        "setup": [state.pre[i] for i in setup_ids],
        "turns": [_placeholders(t, setup_ids) for t in turns],
        "expect": expect,
    }
    return case, state.notes


_TODAY = re.compile(r"Today is \w+ (\d{4}-\d{2}-\d{2})")


def case_from_openai_line(
    line: dict[str, Any], *, case_id: str
) -> tuple[dict[str, Any], list[str]]:
    """A case from one line of OpenAI fine-tuning data: its user turns and tool calls.

    The clock is the day the system prompt names (at noon: the time of day is not in it).
    """
    messages = [m for m in line.get("messages") or () if isinstance(m, dict)]
    system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
    day = _TODAY.search(system)
    now = datetime.fromisoformat(f"{day.group(1)}T12:00:00") if day else datetime.now()
    results: dict[str, Any] = {}
    for message in messages:
        if message.get("role") == "tool":
            results[str(message.get("tool_call_id"))] = _parsed(str(message.get("content") or ""))
    calls = [
        ObservedCall(
            name=str(call["function"]["name"]),
            arguments=_parsed(str(call["function"].get("arguments") or "{}")) or {},
            result=results.get(str(call.get("id"))),
        )
        for message in messages
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or ()
    ]
    turns = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    return case_from_calls(case_id=case_id, now=now, turns=turns, calls=calls)


def _parsed(text: str) -> Any:
    """A tool message's JSON result, or None for an error text."""
    try:
        return json.loads(text)
    except ValueError:
        return None
