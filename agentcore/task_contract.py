"""The Task tools' contract (DESIGN.md): names and closed values that eval suites, the
built-in engine and the app's tools all depend on. Defined once, here."""

from __future__ import annotations

from typing import Literal, TypeAlias

Priority: TypeAlias = Literal["low", "medium", "high"]
TaskStatus: TypeAlias = Literal["open", "done"]

TOOL_NAMES = (
    "create_task",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "delete_task",
)
PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high")
STATUSES: tuple[TaskStatus, ...] = ("open", "done")
MUTATING_TOOLS = frozenset({"create_task", "update_task", "complete_task", "delete_task"})
"""Tools that change the task list: the app refreshes its task panel after them."""
