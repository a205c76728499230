"""In-memory Task tools following the tool contract, and a small eval-suite runner.

The runner drives the agent on in-memory tools and judges with `agentcore.evals`, the same
judge the Django `agent_eval` command uses on the ORM: same case, same verdict, one judge.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from agentcore.backends.base import Backend
from agentcore.evals import Case, CaseResult, ToolCallRecord, TurnRecord, evaluate
from agentcore.evals import load_suite as load_suite
from agentcore.loop import Agent
from agentcore.messages import Message, ToolCall
from agentcore.tools import UNSET, Tool, ToolError, ToolSet

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
        due_date: str | None = UNSET,
        tags: list[str] | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """Update fields of a task; due_date null removes the due date."""
        task = self._get(task_id)
        self._check(priority, None if due_date is UNSET else due_date, status)
        changes = {
            "title": title,
            "description": description,
            "priority": priority,
            "due_date": due_date,
            "tags": tags,
        }
        task.update({k: v for k, v in changes.items() if v is not None and v is not UNSET})
        if due_date is None:
            task["due_date"] = None
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


async def run_case(case: Case, backend: Backend) -> CaseResult:
    """Run one case on in-memory tools and judge it with the same judge as `agent_eval`."""
    now = case.now
    store = MemoryTasks(clock=(lambda: now) if now else datetime.now)
    ids = []
    for spec in case.setup:
        task = store.create_task(
            title=spec.title,
            description=spec.description,
            priority=spec.priority,
            due_date=spec.due_date,
            tags=list(spec.tags),
        )
        if spec.status == "done":
            store.complete_task(task["id"])
        ids.append(task["id"])
    agent = Agent(backend=backend, tools=store.toolset(), clock=store.clock)

    async def decide(call: ToolCall) -> bool:
        return case.approve

    messages: list[Message] = []
    turns = []
    for n, text in enumerate(case.turns_for(ids)):
        messages.append(Message(role="user", content=text))
        turn = TurnRecord(message=text)
        started = time.perf_counter()
        async for event in agent.run(messages, run_id=f"{case.id}-{n}", approve=decide):
            p = event.payload
            if event.type == "tool_call":
                turn.tool_calls.append(ToolCallRecord(name=p.name, arguments=p.arguments))
            elif event.type == "final":
                turn.reply = p.text
            elif event.type == "error":
                turn.error = str(p.message)
            elif event.type == "run_finished":
                turn.status = str(p.status)
        turn.latency_ms = (time.perf_counter() - started) * 1000
        turns.append(turn)
    return evaluate(case, backend=backend.info.name, turns=turns, tasks=list(store.tasks.values()))
