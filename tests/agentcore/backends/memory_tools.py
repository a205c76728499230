"""In-memory Task tools following the tool contract, and a small eval-suite runner.

The runner implements `shared/evals/FORMAT.md` as plainly as possible, so the Django
`agent_eval` command, written later against the ORM, can be checked against it: same case,
same verdict.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agentcore.backends.base import Backend
from agentcore.loop import Agent
from agentcore.messages import Message, ToolCall
from agentcore.tools import Tool, ToolError, ToolSet

PRIORITIES = ("low", "medium", "high")


class MemoryTasks:
    """One user's tasks in a dict; the six tools as bound methods."""

    def __init__(self, clock=datetime.now) -> None:
        self.clock = clock
        self.tasks: dict[int, dict[str, Any]] = {}
        self.next_id = 1

    def _get(self, task_id: int) -> dict[str, Any]:
        if task_id not in self.tasks:
            raise ToolError(f"no task with id {task_id}")
        return self.tasks[task_id]

    def _check(self, priority: str | None, due_date: str | None, status: str | None) -> None:
        if priority is not None and priority not in PRIORITIES:
            raise ToolError(f"priority must be one of low, medium, high, not {priority!r}")
        if status is not None and status not in ("open", "done"):
            raise ToolError(f"status must be open or done, not {status!r}")
        if due_date is not None:
            try:
                datetime.strptime(due_date, "%Y-%m-%d")
            except ValueError:
                raise ToolError(f"due_date must be YYYY-MM-DD, not {due_date!r}") from None

    def create_task(
        self,
        title: str,
        description: str = "",
        priority: str = "medium",
        due_date: str | None = None,
        tags: list[str] = [],  # noqa: B006 (the contract's signature)
    ) -> dict[str, Any]:
        """Create a task."""
        if not title.strip():
            raise ToolError("title must not be empty")
        self._check(priority, due_date, None)
        task = {
            "id": self.next_id,
            "title": title,
            "description": description,
            "priority": priority,
            "status": "open",
            "due_date": due_date,
            "tags": list(tags),
            "created_at": self.clock().isoformat(),
            "completed_at": None,
        }
        self.tasks[self.next_id] = task
        self.next_id += 1
        return dict(task)

    def list_tasks(
        self,
        status: str = "open",
        priority: str | None = None,
        due_before: str | None = None,
        due_after: str | None = None,
        tag: str | None = None,
        query: str | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """List tasks with filters."""
        if status not in ("open", "done", "all"):
            raise ToolError("status must be open, done or all")
        found = []
        for task in self.tasks.values():
            if status != "all" and task["status"] != status:
                continue
            if priority and task["priority"] != priority:
                continue
            if due_before and (not task["due_date"] or task["due_date"] > due_before):
                continue
            if due_after and (not task["due_date"] or task["due_date"] < due_after):
                continue
            if tag and tag.lower() not in [t.lower() for t in task["tags"]]:
                continue
            text = (task["title"] + " " + task["description"]).lower()
            if query and query.lower() not in text:
                continue
            found.append(dict(task))
        return {"tasks": found[:limit], "count": len(found)}

    def get_task(self, task_id: int) -> dict[str, Any]:
        """Get one task."""
        return dict(self._get(task_id))

    def update_task(
        self,
        task_id: int,
        title: str | None = None,
        description: str | None = None,
        priority: str | None = None,
        due_date: str | None = None,
        tags: list[str] | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """Update fields of a task."""
        task = self._get(task_id)
        self._check(priority, due_date, status)
        changes = {
            "title": title,
            "description": description,
            "priority": priority,
            "due_date": due_date,
            "tags": tags,
        }
        task.update({k: v for k, v in changes.items() if v is not None})
        if status is not None:
            self._set_status(task, status)
        return dict(task)

    def _set_status(self, task: dict[str, Any], status: str) -> None:
        task["status"] = status
        task["completed_at"] = self.clock().isoformat() if status == "done" else None

    def complete_task(self, task_id: int) -> dict[str, Any]:
        """Mark a task done."""
        task = self._get(task_id)
        self._set_status(task, "done")
        return dict(task)

    def delete_task(self, task_id: int) -> dict[str, Any]:
        """Delete a task."""
        task = self.tasks.pop(self._get(task_id)["id"])
        return {"deleted": task["id"], "title": task["title"]}

    def toolset(self) -> ToolSet:
        plain = [self.create_task, self.list_tasks, self.get_task, self.update_task]
        tools = [Tool.from_function(f) for f in [*plain, self.complete_task]]
        tools.append(Tool.from_function(self.delete_task, requires_approval=True))
        return ToolSet.of(tools)


@dataclass
class CaseResult:
    id: str
    passed: bool
    problems: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    reply: str = ""
    turn_seconds: list[float] = field(default_factory=list)


def load_suite(path: str | Path) -> list[dict[str, Any]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _matches(predicate: dict[str, Any], task: dict[str, Any]) -> bool:
    for key, want in predicate.items():
        if key == "title_contains":
            if want.lower() not in task["title"].lower():
                return False
        elif key == "tags":
            if not set(want) <= set(task["tags"]):
                return False
        elif task.get(key) != want:
            return False
    return True


def _distinct_match(predicates: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> bool:
    """Each predicate matches a different task (small backtracking search)."""
    if not predicates:
        return True
    first, rest = predicates[0], predicates[1:]
    for i, task in enumerate(tasks):
        if _matches(first, task) and _distinct_match(rest, tasks[:i] + tasks[i + 1 :]):
            return True
    return False


def _in_order(wanted: list[str], called: list[str]) -> bool:
    it = iter(called)
    return all(any(name == c for c in it) for name in wanted)


async def run_case(case: dict[str, Any], backend: Backend) -> CaseResult:
    now = datetime.fromisoformat(case["now"]) if case.get("now") else datetime.now()
    store = MemoryTasks(clock=lambda: now)
    ids = []
    for spec in case.get("setup", []):
        spec = dict(spec)
        status = spec.pop("status", "open")
        task = store.create_task(**spec)
        if status == "done":
            store.complete_task(task["id"])
        ids.append(task["id"])
    agent = Agent(backend=backend, tools=store.toolset(), clock=lambda: now)
    approve = bool(case.get("approve", True))

    async def decide(call: ToolCall) -> bool:
        return approve

    messages: list[Message] = []
    called: list[str] = []
    reply = ""
    seconds = []
    for n, turn in enumerate(case["turns"]):
        for i, task_id in enumerate(ids):
            turn = turn.replace(f"{{task:{i}}}", str(task_id))
        messages.append(Message(role="user", content=turn))
        started = time.perf_counter()
        async for event in agent.run(messages, run_id=f"{case['id']}-{n}", approve=decide):
            if event.type == "tool_call":
                called.append(event.payload["name"])
            elif event.type == "final":
                reply = event.payload["text"]
        seconds.append(time.perf_counter() - started)
    return _judge(case, store, called, reply, seconds)


def _judge(case, store: MemoryTasks, called, reply, seconds) -> CaseResult:
    expect = case.get("expect", {})
    tasks = list(store.tasks.values())
    problems = []
    if "tools" in expect and not _in_order(expect["tools"], called):
        problems.append(f"tools {called} lack {expect['tools']} in order")
    forbidden = [name for name in expect.get("forbid_tools", []) if name in called]
    if forbidden:
        problems.append(f"forbidden tools called: {forbidden}")
    if "tasks" in expect and not _distinct_match(expect["tasks"], tasks):
        problems.append(f"tasks {expect['tasks']} not matched by {tasks}")
    for predicate in expect.get("absent", []):
        if any(_matches(predicate, t) for t in tasks):
            problems.append(f"a task matches absent {predicate}")
    if "task_count" in expect and len(tasks) != expect["task_count"]:
        problems.append(f"task_count {len(tasks)} != {expect['task_count']}")
    for text in expect.get("reply_contains", []):
        if text.lower() not in reply.lower():
            problems.append(f"reply lacks {text!r}: {reply!r}")
    return CaseResult(case["id"], not problems, problems, called, reply, seconds)
