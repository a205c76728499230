"""The six Task tools, bound to one user.

The user is captured in a closure when the tools are built: no argument the model sends can
name another user, and every query filters on the owner. Tool names and arguments are the
contract of DESIGN.md that eval suites depend on.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone
from pydantic import Field

from agentcore.tools import UNSET, Tool, ToolError, ToolSet

from .models import Task
from .services import storable
from .step_writer import step_writer

PriorityArg = Literal["low", "medium", "high"]
StatusArg = Literal["open", "done"]
ListStatusArg = Literal["open", "done", "all"]
TaskId = Annotated[int, Field(description="The task's id, as list_tasks returns it")]


async def _run_in_db_thread(function: Any, kwargs: dict[str, Any]) -> Any:
    """Run a sync ORM tool on Django's thread for sync code, with the run's steps stored
    before it (`StepWriter.call`: one trip to that thread for both)."""
    return await step_writer().call(functools.partial(function, **kwargs))


def _clean_tags(tags: list[str]) -> list[str]:
    seen: list[str] = []
    for tag in tags:
        clean = storable(tag).strip().lstrip("#").strip().lower()
        if clean and clean not in seen:
            seen.append(clean)
    return seen


def build_task_tools(user: AbstractBaseUser) -> ToolSet:
    """The Task tools acting only on `user`'s tasks; delete_task waits for approval."""
    owner_id = user.pk

    def _get(task_id: int) -> Task:
        task = Task.objects.filter(owner_id=owner_id, pk=task_id).first()
        if task is None:
            raise ToolError(f"no task with id {task_id}")
        return task

    def create_task(
        title: Annotated[str, Field(min_length=1, max_length=300)],
        description: str = "",
        priority: PriorityArg = "medium",
        due_date: dt.date | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create a task for the user. due_date is ISO YYYY-MM-DD; tags are short words."""
        task = Task.objects.create(
            owner_id=owner_id,
            title=storable(title.strip()),
            description=storable(description),
            priority=priority,
            due_date=due_date,
            tags=_clean_tags(tags or []),
        )
        return task.to_tool_dict()

    def list_tasks(
        status: ListStatusArg = "open",
        priority: PriorityArg | None = None,
        due_before: dt.date | None = None,
        due_after: dt.date | None = None,
        tag: str | None = None,
        query: str | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        """List the user's tasks. Dates are inclusive; query searches title and description."""
        tasks = Task.objects.filter(owner_id=owner_id)
        if status != "all":
            tasks = tasks.filter(status=status)
        if priority:
            tasks = tasks.filter(priority=priority)
        if due_before:
            tasks = tasks.filter(due_date__lte=due_before)
        if due_after:
            tasks = tasks.filter(due_date__gte=due_after)
        if query:
            tasks = tasks.filter(Q(title__icontains=query) | Q(description__icontains=query))
        rows = list(tasks.order_by("due_date", "id"))
        if tag:
            wanted = tag.strip().lstrip("#").lower()
            rows = [t for t in rows if wanted in (t.tags or [])]
        found = [t.to_tool_dict() for t in rows[:limit]]
        return {"tasks": found, "count": len(found)}

    def get_task(task_id: TaskId) -> dict[str, Any]:
        """Get one task by id."""
        return _get(task_id).to_tool_dict()

    def update_task(
        task_id: TaskId,
        title: str | None = None,
        description: str | None = None,
        priority: PriorityArg | None = None,
        due_date: dt.date | None = UNSET,
        tags: list[str] | None = None,
        status: StatusArg | None = None,
    ) -> dict[str, Any]:
        """Change fields of a task; only the fields given change. tags replaces the list;
        due_date null removes the due date."""
        task = _get(task_id)
        if title is not None:
            if not title.strip():
                raise ToolError("title cannot be empty")
            task.title = storable(title.strip())
        if description is not None:
            task.description = storable(description)
        if priority is not None:
            task.priority = priority
        if due_date is not UNSET:
            task.due_date = due_date
        if tags is not None:
            task.tags = _clean_tags(tags)
        if status is not None and status != task.status:
            task.status = status
            task.completed_at = timezone.now() if status == "done" else None
        task.save()
        return task.to_tool_dict()

    def complete_task(task_id: TaskId) -> dict[str, Any]:
        """Mark a task done."""
        task = _get(task_id)
        if task.status != "done":
            task.status = "done"
            task.completed_at = timezone.now()
            task.save(update_fields=["status", "completed_at", "updated_at"])
        return task.to_tool_dict()

    def delete_task(task_id: TaskId) -> dict[str, Any]:
        """Delete a task for good. The user is asked to approve first."""
        task = _get(task_id)
        title = task.title
        task.delete()
        return {"deleted": task_id, "title": title}

    def task_exists(task_id: TaskId) -> None:
        _get(task_id)  # ToolError "no task with id N" before anyone is asked to approve

    tools = [
        Tool.from_function(create_task),
        Tool.from_function(list_tasks),
        Tool.from_function(get_task),
        Tool.from_function(update_task),
        Tool.from_function(complete_task),
        Tool.from_function(delete_task, requires_approval=True, precheck=task_exists),
    ]
    return ToolSet.of(tools, runner=_run_in_db_thread)
